"""Accounts: register, update the profile, change or reset the password, delete."""

from __future__ import annotations

import logging
import zoneinfo

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode

from apps.identity import selectors
from apps.identity.error_codes import (
    EmailTaken,
    ResetTokenInvalid,
    UserNotFoundError,
    WeakPassword,
    WrongPassword,
)
from apps.identity.models import Device, User
from apps.identity.services.display_names import display_name_clean
from apps.identity.services.emails import verification_link_send
from apps.identity.services.mails import RESET_MAIL_TASK
from apps.identity.services.sessions import (
    DeviceInfo,
    IssuedTokens,
    session_open,
    sessions_revoke_all,
)
from cleave.background import task_enqueue, task_named
from cleave.databases import database_for
from cleave.errors import ValidationFailed
from cleave.events import publish
from cleave.realtime import push, user_stream
from contracts.identity import UserDeleted, UserRegistered, UserUpdated

logger = logging.getLogger(__name__)
DB = database_for("identity")


def _locked_account(user_id: int) -> User:
    """The active account, locked; the caller holds a transaction. A token can outlive its
    account's row (a restored database, a token from another environment): that is not-found,
    never a server error."""
    user = User.objects.using(DB).select_for_update().filter(pk=user_id, is_active=True).first()
    if user is None:
        raise UserNotFoundError()
    return user


def _locked_undeleted(user_id: int) -> User:
    """The account, active or suspended but not deleted, locked; the caller holds a
    transaction. Staff's writes (reactivate, delete) reach suspended accounts too."""
    user = (
        User.objects.using(DB)
        .select_for_update()
        .filter(pk=user_id, deleted_at__isnull=True)
        .first()
    )
    if user is None:
        raise UserNotFoundError()
    return user


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user=user)
    except ValidationError as error:
        raise WeakPassword(details={"problems": list(error.messages)}) from None


def user_register(
    *,
    email: str,
    password: str,
    display_name: str,
    device: DeviceInfo | None = None,
    email_verified: bool = False,
) -> tuple[User, IssuedTokens | None]:
    """Create an account (and, given a device, its first session); mail it a link that proves
    its address, unless an operator vouches for it here (`email_verified`, never from the API)."""
    email = email.strip().lower()
    display_name = display_name_clean(display_name)
    _check_password(password, User(email=email, display_name=display_name))
    try:
        with transaction.atomic(using=DB):
            user = User.objects.db_manager(DB).create_user(
                email,
                password,
                display_name=display_name,
                email_verified_at=timezone.now() if email_verified else None,
            )
            publish(
                UserRegistered(
                    aggregate_id=str(user.pk), user_id=user.pk, display_name=user.display_name
                )
            )
            tokens = session_open(user=user, device=device) if device else None
            if not email_verified:
                verification_link_send(user)
    except IntegrityError:
        raise EmailTaken() from None
    return user, tokens


def user_update(
    *,
    user_id: int,
    display_name: str | None = None,
    locale: str | None = None,
    timezone_name: str | None = None,
) -> User:
    if timezone_name is not None and timezone_name not in zoneinfo.available_timezones():
        raise ValidationFailed(
            details=[{"loc": ["body", "timezone"], "msg": "unknown time zone", "type": "timezone"}]
        )
    if display_name is not None:
        display_name = display_name_clean(display_name)
    with transaction.atomic(using=DB):
        user = _locked_account(user_id)
        if display_name is not None:
            user.display_name = display_name
        if locale is not None:
            user.locale = locale
        if timezone_name is not None:
            user.timezone = timezone_name
        user.save(using=DB, update_fields=["display_name", "locale", "timezone"])
        _forget_profile_after_commit(user.pk)
        profile = {
            "display_name": user.display_name,
            "locale": user.locale,
            "timezone": user.timezone,
        }
        transaction.on_commit(
            lambda: push(user_stream(user_id), "user.updated", profile), using=DB
        )  # the user's other devices learn of the change on their sockets
        publish(
            UserUpdated(
                aggregate_id=str(user.pk),
                user_id=user.pk,
                display_name=user.display_name,
                locale=user.locale,
                timezone=user.timezone,
            )
        )
    return user


def user_password_change(*, user_id: int, session_id: str, current: str, new: str) -> None:
    """Change the password; every other session is signed out."""
    with transaction.atomic(using=DB):
        user = _locked_account(user_id)
        if not user.check_password(current):
            raise WrongPassword()
        _check_password(new, user)
        user.set_password(new)
        user.save(using=DB, update_fields=["password"])
        sessions_revoke_all(
            user_id=user.pk, except_session_id=session_id, reason="password_changed"
        )


def password_reset_request(*, email: str) -> None:
    """Hand the address to a task that mails a reset link if an active account has it.

    Nothing here depends on whether the account exists (no lookup, no branch), so the answer
    takes as long either way; the task, off the request's thread, does the rest.
    """
    task_enqueue(task_named(RESET_MAIL_TASK), email.strip())


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Set a new password from a reset link (single use: the token dies with the old hash)."""
    try:
        user_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError):
        raise ResetTokenInvalid() from None
    with transaction.atomic(using=DB):
        user = User.objects.using(DB).select_for_update().filter(pk=user_id, is_active=True).first()
        if user is None or not default_token_generator.check_token(user, token):
            raise ResetTokenInvalid()
        _check_password(new_password, user)
        user.set_password(new_password)
        user.save(using=DB, update_fields=["password"])
        sessions_revoke_all(user_id=user.pk, reason="password_reset")


def user_password_set(*, user_id: int, password: str | None) -> User:
    """Staff set a password (None: no password sign-in at all); every session is signed out,
    as after a reset, so whoever held the account before holds nothing now."""
    with transaction.atomic(using=DB):
        user = User.objects.using(DB).select_for_update().filter(pk=user_id).first()
        if user is None:
            raise UserNotFoundError()
        if password is None:
            user.set_unusable_password()
        else:
            _check_password(password, user)
            user.set_password(password)
        user.save(using=DB, update_fields=["password"])
        sessions_revoke_all(user_id=user.pk, reason="password_set_by_staff")
    return user


def user_delete(*, user_id: int) -> None:
    """Deactivate and anonymise the account, sign it out everywhere, tell every context.
    A suspended account may be deleted too (by staff); a deleted one is not found."""
    with transaction.atomic(using=DB):
        user = _locked_undeleted(user_id)
        sessions_revoke_all(user_id=user.pk, reason="account_deleted")
        Device.objects.using(DB).filter(user=user).delete()
        user.email = f"deleted-{user.pk}@deleted.invalid"
        user.display_name = ""
        user.is_active = False
        user.deleted_at = timezone.now()
        user.set_unusable_password()
        user.save(
            using=DB, update_fields=["email", "display_name", "is_active", "deleted_at", "password"]
        )
        user.groups.clear()
        _forget_profile_after_commit(user.pk)
        publish(UserDeleted(aggregate_id=str(user.pk), user_id=user.pk))


def user_deactivate(*, user_id: int) -> None:
    """Suspend an account: it cannot log in and its sessions end now (moderation)."""
    with transaction.atomic(using=DB):
        user = User.objects.using(DB).select_for_update().filter(pk=user_id).first()
        if user is None:
            raise UserNotFoundError()
        if not user.is_active:
            return  # already suspended: nothing to do
        user.is_active = False
        user.save(using=DB, update_fields=["is_active"])
        sessions_revoke_all(user_id=user.pk, reason="deactivated")
        _forget_profile_after_commit(user.pk)


def user_reactivate(*, user_id: int) -> None:
    """Lift a suspension (moderation): the account may sign in again; its old sessions stay
    ended. A deleted account stays deleted."""
    with transaction.atomic(using=DB):
        user = _locked_undeleted(user_id)
        if user.is_active:
            return
        user.is_active = True
        user.save(using=DB, update_fields=["is_active"])
        _forget_profile_after_commit(user.pk)


def _forget_profile_after_commit(user_id: int) -> None:
    transaction.on_commit(lambda: selectors.user_profile_forget(user_id=user_id), using=DB)
