"""The account's address: prove it with a signed, expiring link; change it; staff vouch for it.

The link (apps.identity.verification) names the account and a keyed hash of the address it was
sent to, so a link sent to an address the account no longer has is refused, and it expires
after CLEAVE_EMAIL_VERIFICATION_SECONDS. Verifying twice is harmless (idempotent).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.identity import selectors
from apps.identity.error_codes import (
    EmailAlreadyVerified,
    EmailTaken,
    UserNotFoundError,
    VerificationInvalid,
    WrongPassword,
)
from apps.identity.models import User
from apps.identity.services.mails import EMAIL_VERIFICATION_MAIL_TASK
from apps.identity.verification import token_matches, token_read
from cleave.background import task_named
from cleave.databases import database_for

DB = database_for("identity")


def verification_link_send(user: User) -> None:
    """Mail a link for the account's current address once the caller's transaction commits
    (the mail leaves from a task: never on the request's thread, never for a rolled-back row;
    the task makes the token, and skips a mail whose address changed or was verified since)."""
    user_id, email = user.pk, user.email
    transaction.on_commit(
        lambda: task_named(EMAIL_VERIFICATION_MAIL_TASK).delay(user_id, email), using=DB
    )


def _locked(user_id: int) -> User:
    """The active account, locked; the caller holds a transaction."""
    user = User.objects.using(DB).select_for_update().filter(pk=user_id, is_active=True).first()
    if user is None:
        raise UserNotFoundError()
    return user


def _mark_verified(user: User) -> None:
    """Record the proof (kept as first given); the caller holds the row lock."""
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(using=DB, update_fields=["email_verified_at"])
        _forget_after_commit(user.pk)


def _forget_after_commit(user_id: int) -> None:
    transaction.on_commit(lambda: selectors.user_profile_forget(user_id=user_id), using=DB)


def email_verify(*, token: str) -> User:
    """Consume a verification link: the account's address counts as proven from now on."""
    user_id, tag = token_read(token)
    with transaction.atomic(using=DB):
        user = User.objects.using(DB).select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not token_matches(tag, user):
            raise VerificationInvalid()
        _mark_verified(user)
    return user


def email_verification_resend(*, user_id: int) -> None:
    """Mail a new link to the account's current address (the API throttles how often)."""
    with transaction.atomic(using=DB):
        user = _locked(user_id)
        if user.email_verified_at is not None:
            raise EmailAlreadyVerified()
        verification_link_send(user)


def email_change(*, user_id: int, password: str, email: str) -> User:
    """Move the account to a new address (the password proves it is the owner, not a stolen
    token): the new address is unverified until its link is opened; links to the old one die."""
    email = email.strip().lower()
    try:
        with transaction.atomic(using=DB):
            user = _locked(user_id)
            if not user.check_password(password):
                raise WrongPassword()
            if email == user.email:
                return user
            user.email = email
            user.email_verified_at = None
            user.save(using=DB, update_fields=["email", "email_verified_at"])
            _forget_after_commit(user.pk)
            verification_link_send(user)
    except IntegrityError:  # the unique, case-insensitive address constraint
        raise EmailTaken() from None
    return user


def email_mark_verified(*, user_id: int) -> User:
    """Staff (the ops API) or an operator (`manage.py users_verify`) vouch for the address."""
    with transaction.atomic(using=DB):
        user = _locked(user_id)
        _mark_verified(user)
    return user
