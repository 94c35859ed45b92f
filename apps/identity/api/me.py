"""The signed-in account: read, update, change password or address, verify it, delete."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from apps.identity import selectors
from apps.identity.api.presenters import user_out
from apps.identity.error_codes import (
    DISPLAY_NAME_ERRORS,
    EmailAlreadyVerified,
    EmailTaken,
    UserNotFoundError,
    WeakPassword,
    WrongPassword,
)
from apps.identity.schemas import (
    EmailChangeIn,
    MeUpdateIn,
    PasswordChangeIn,
    StatusOut,
    UserOut,
)
from apps.identity.services import accounts, emails
from apps.identity.throttles import email_change_limit, verification_resend_limit
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.openapi.errors import raises

router = Router(auth=bearer)


@router.get("", response=UserOut)
@raises(UserNotFoundError)
def me_get(request: HttpRequest) -> dict[str, Any]:
    # The cached profile dict goes out as is: ninja validates it against UserOut once.
    profile = selectors.user_profile_get(user_id=principal_of(request).user_id)
    if profile is None:
        raise UserNotFoundError()
    return profile


@router.patch("", response=UserOut)
@raises(*DISPLAY_NAME_ERRORS)
def me_update(request: HttpRequest, payload: MeUpdateIn) -> UserOut:
    user = accounts.user_update(
        user_id=principal_of(request).user_id,
        display_name=payload.display_name,
        locale=payload.locale,
        timezone_name=payload.timezone,
    )
    return user_out(user)


@router.post("/password", response={204: None})
@raises(WrongPassword, WeakPassword)
def me_password_change(request: HttpRequest, payload: PasswordChangeIn) -> Status[None]:
    """Change the password; every other session of the account is signed out."""
    principal = principal_of(request)
    accounts.user_password_change(
        user_id=principal.user_id,
        session_id=principal.session_id,
        current=payload.current_password,
        new=payload.new_password,
    )
    return Status(204, None)


@router.post("/email", response=UserOut, throttle=[email_change_limit])
@raises(WrongPassword, EmailTaken)
def me_email_change(request: HttpRequest, payload: EmailChangeIn) -> UserOut:
    """Move the account to a new address (needs the password); it is unverified until the link
    mailed there is opened, and links sent to the old address stop working."""
    user = emails.email_change(
        user_id=principal_of(request).user_id, password=payload.password, email=payload.email
    )
    return user_out(user)


@router.post("/email/verification", response={202: StatusOut}, throttle=[verification_resend_limit])
@raises(EmailAlreadyVerified)
def me_email_verification_resend(request: HttpRequest) -> Status[StatusOut]:
    """Mail a new verification link to the current address."""
    emails.email_verification_resend(user_id=principal_of(request).user_id)
    return Status(202, StatusOut(status="a verification mail is on its way"))


@router.delete("", response={204: None})
def me_delete(request: HttpRequest) -> Status[None]:
    """Delete the account: deactivated, anonymised, signed out; other contexts are told."""
    accounts.user_delete(user_id=principal_of(request).user_id)
    return Status(204, None)
