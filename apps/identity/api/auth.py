"""Register, log in, refresh, log out, reset a forgotten password, verify the address."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Status

from apps.identity.api.presenters import tokens_out, user_out
from apps.identity.error_codes import (
    DISPLAY_NAME_ERRORS,
    EmailTaken,
    InvalidCredentials,
    RefreshExpired,
    RefreshInvalid,
    RefreshReused,
    ResetTokenInvalid,
    VerificationExpired,
    VerificationInvalid,
    WeakPassword,
)
from apps.identity.schemas import (
    EmailVerifiedOut,
    EmailVerifyIn,
    LoginIn,
    PasswordResetConfirmIn,
    PasswordResetIn,
    RefreshIn,
    RegisteredOut,
    RegisterIn,
    StatusOut,
    TokensOut,
)
from apps.identity.services import accounts, emails, sessions
from apps.identity.services.sessions import DeviceInfo
from apps.identity.throttles import (
    attempt_key,
    login_backoff,
    login_limit,
    login_pressure,
    refresh_limit,
    register_limit,
    reset_backoff,
    reset_limit,
    reset_pressure,
    verify_limit,
)
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.openapi.errors import raises

router = Router()


@router.post("/register", response={201: RegisteredOut}, auth=None, throttle=[register_limit])
@raises(EmailTaken, WeakPassword, *DISPLAY_NAME_ERRORS)
def register(request: HttpRequest, payload: RegisterIn) -> Status[RegisteredOut]:
    device = DeviceInfo(**payload.device.dict()) if payload.device else None
    user, tokens = accounts.user_register(
        email=payload.email,
        password=payload.password,
        display_name=payload.display_name,
        device=device,
    )
    return Status(
        201, RegisteredOut(user=user_out(user), tokens=tokens_out(tokens) if tokens else None)
    )


@router.post("/login", response=TokensOut, auth=None, throttle=[login_limit])
@raises(InvalidCredentials)
def login(request: HttpRequest, payload: LoginIn) -> TokensOut:
    account = payload.email.strip().lower()
    attempt = attempt_key(account, request)
    login_backoff.check(attempt)  # this address, for this account
    login_pressure.wait(account)  # slowed, never refused, when the account is under attack
    try:
        tokens = sessions.session_login(
            request=request,
            email=payload.email,
            password=payload.password,
            device=DeviceInfo(**payload.device.dict()),
        )
    except InvalidCredentials:
        login_backoff.failure(attempt)
        login_pressure.failure(account)
        raise
    login_backoff.success(attempt)
    return tokens_out(tokens)


@router.post("/refresh", response=TokensOut, auth=None, throttle=[refresh_limit])
@raises(RefreshInvalid, RefreshExpired, RefreshReused)
def refresh(request: HttpRequest, payload: RefreshIn) -> TokensOut:
    return tokens_out(sessions.session_refresh(refresh=payload.refresh))


@router.post("/logout", response={204: None}, auth=bearer)
def logout(request: HttpRequest) -> Status[None]:
    principal = principal_of(request)
    sessions.session_revoke(user_id=principal.user_id, session_id=principal.session_id)
    return Status(204, None)


@router.post("/password-reset", response={202: StatusOut}, auth=None, throttle=[reset_limit])
def password_reset(request: HttpRequest, payload: PasswordResetIn) -> Status[StatusOut]:
    """Always 202, whether or not the email has an account (no user enumeration)."""
    account = payload.email.strip().lower()
    attempt = attempt_key(account, request)
    reset_backoff.check(attempt)
    reset_pressure.wait(account)
    # Every request counts: a reset is never a "success" here.
    reset_backoff.failure(attempt)
    reset_pressure.failure(account)
    accounts.password_reset_request(email=payload.email)
    return Status(202, StatusOut(status="if the account exists, a reset mail is on its way"))


@router.post("/password-reset/confirm", response={204: None}, auth=None, throttle=[reset_limit])
@raises(ResetTokenInvalid, WeakPassword)
def password_reset_confirm(request: HttpRequest, payload: PasswordResetConfirmIn) -> Status[None]:
    accounts.password_reset_confirm(
        uid=payload.uid, token=payload.token, new_password=payload.new_password
    )
    return Status(204, None)


@router.post("/verify-email", response=EmailVerifiedOut, auth=None, throttle=[verify_limit])
@raises(VerificationInvalid, VerificationExpired)
def verify_email(request: HttpRequest, payload: EmailVerifyIn) -> EmailVerifiedOut:
    """Consume the link mailed at registration or on a change of address (signed in or not:
    the token is the proof). Opening it again is harmless."""
    user = emails.email_verify(token=payload.token)
    return EmailVerifiedOut(email=user.email, email_verified=True)
