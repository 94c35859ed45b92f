"""Logins, refresh-token rotation, sign-outs and devices."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from apps.identity import selectors
from apps.identity.error_codes import (
    InvalidCredentials,
    RefreshExpired,
    RefreshInvalid,
    RefreshReused,
)
from apps.identity.models import Device, RefreshToken, Session, User
from apps.identity.services.keys import access_token_issue
from cleave.auth import SessionRevoked as SessionRevokedError
from cleave.auth import revocation
from cleave.databases import database_for
from cleave.events import publish
from contracts.identity import DeviceRegistered, Platform, PushTokenChanged, SessionRevoked

logger = logging.getLogger(__name__)
DB = database_for("identity")


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    platform: str
    app_version: str
    push_token: str | None = None


@dataclass(frozen=True)
class IssuedTokens:
    access: str
    refresh: str
    expires_in: int
    session: Session
    user: User


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_refresh_token(session: Session) -> str:
    token = secrets.token_urlsafe(32)
    RefreshToken.objects.using(DB).create(
        token_hash=_hash(token),
        session=session,
        expires_at=timezone.now() + timedelta(seconds=settings.CLEAVE_REFRESH_TOKEN_SECONDS),
    )
    return token


def _issue(session: Session, user: User) -> IssuedTokens:
    refresh = _new_refresh_token(session)
    roles = selectors.user_role_list(user=user)
    device = {"platform": session.device.platform, "app_version": session.device.app_version}
    access, expires_in = access_token_issue(
        user_id=user.pk, session_id=str(session.pk), roles=roles, device=device
    )
    return IssuedTokens(access, refresh, expires_in, session, user)


def session_login(
    *, request: HttpRequest | None, email: str, password: str, device: DeviceInfo
) -> IssuedTokens:
    """Check the password and open the device's session (replacing an older one on it).

    Unknown emails and wrong passwords fail alike, and in the same time: Django's
    ModelBackend hashes the password even when no account matches.
    """
    user = authenticate(request, username=email.strip().lower(), password=password)
    if not isinstance(user, User):
        raise InvalidCredentials()
    with transaction.atomic(using=DB):
        return session_open(user=user, device=device)


def session_open(*, user: User, device: DeviceInfo) -> IssuedTokens:
    """Open a session for `user` on `device`; the caller holds a transaction."""
    device_row = _device_upsert(user=user, device=device)
    for old in (
        Session.objects.using(DB)
        .select_for_update()
        .filter(device=device_row, revoked_at__isnull=True)
    ):
        _revoke(old, reason="replaced")
    session = Session.objects.using(DB).create(user=user, device=device_row)
    User.objects.using(DB).filter(pk=user.pk).update(last_login=timezone.now())
    return _issue(session, user)


def _device_upsert(*, user: User, device: DeviceInfo) -> Device:
    row, created = (
        Device.objects.using(DB)
        .select_for_update()
        .get_or_create(
            user=user,
            device_id=device.device_id,
            defaults={
                "platform": device.platform,
                "app_version": device.app_version,
                "push_token": device.push_token or "",
            },
        )
    )
    token_changed = device.push_token is not None and device.push_token != row.push_token
    if not created:
        row.platform, row.app_version, row.last_seen_at = (
            device.platform,
            device.app_version,
            timezone.now(),
        )
        if device.push_token is not None:
            row.push_token = device.push_token
        row.save(using=DB, update_fields=["platform", "app_version", "last_seen_at", "push_token"])
    if created:
        publish(
            DeviceRegistered(
                aggregate_id=str(user.pk),
                user_id=user.pk,
                device_id=row.device_id,
                platform=cast(Platform, row.platform),  # the column's choices are Platform
                app_version=row.app_version,
            )
        )
    if (created and row.push_token) or (not created and token_changed):
        _publish_push_token(row)
    return row


def _publish_push_token(device: Device) -> None:
    publish(
        PushTokenChanged(
            aggregate_id=str(device.user_id),
            user_id=device.user_id,
            device_id=device.device_id,
            platform=cast(Platform, device.platform),
            push_token=device.push_token,
        )
    )


def session_refresh(*, refresh: str) -> IssuedTokens:
    """Trade a refresh token for a new pair. A token used twice signs the session out."""
    with transaction.atomic(using=DB):
        row = (
            RefreshToken.objects.using(DB)
            .select_for_update()
            .select_related("session", "session__user", "session__device")
            .filter(token_hash=_hash(refresh))
            .first()
        )
        if row is None:
            raise RefreshInvalid()
        session = row.session
        if not session.is_live:
            raise SessionRevokedError()
        if row.used_at is not None:
            _revoke(session, reason="refresh_reused")
            logger.warning(
                "refresh token reused: session %s of user %s revoked (possible theft)",
                session.pk, session.user_id,
            )  # fmt: skip
            reused = True
        else:
            reused = False
            if row.expires_at <= timezone.now():
                raise RefreshExpired()
            row.used_at = timezone.now()
            row.save(using=DB, update_fields=["used_at"])
            session.last_seen_at = timezone.now()
            session.save(using=DB, update_fields=["last_seen_at"])
            issued = _issue(session, session.user)
    if reused:
        # Raised after the commit: the revocation must stick even though the request fails.
        raise RefreshReused()
    return issued


def _revoke(session: Session, *, reason: str) -> None:
    """Sign a session out now; its access tokens are refused within seconds.

    The caller holds a transaction; the revocation list is written after commit.
    """
    session.revoked_at = timezone.now()
    session.revoked_reason = reason
    session.save(using=DB, update_fields=["revoked_at", "revoked_reason"])
    RefreshToken.objects.using(DB).filter(session=session, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    session_id = str(session.pk)
    transaction.on_commit(lambda: revocation.revoke(session_id), using=DB)
    publish(
        SessionRevoked(
            aggregate_id=str(session.user_id),
            user_id=session.user_id,
            session_id=session_id,
            reason=reason,
        )
    )


def session_revoke(*, user_id: int, session_id: str, reason: str = "signed_out") -> bool:
    """Revoke one of the user's own live sessions; False if there is none with that id."""
    with transaction.atomic(using=DB):
        session = (
            Session.objects.using(DB)
            .select_for_update()
            .filter(pk=session_id, user_id=user_id, revoked_at__isnull=True)
            .first()
        )
        if session is None:
            return False
        _revoke(session, reason=reason)
    return True


def sessions_revoke_all(*, user_id: int, except_session_id: str | None = None, reason: str) -> int:
    """Revoke every live session of the user (but one); the caller holds a transaction."""
    sessions = (
        Session.objects.using(DB)
        .select_for_update()
        .filter(user_id=user_id, revoked_at__isnull=True)
    )
    if except_session_id:
        sessions = sessions.exclude(pk=except_session_id)
    revoked = list(sessions)
    for session in revoked:
        _revoke(session, reason=reason)
    return len(revoked)


def device_push_token_set(*, session_id: str, push_token: str) -> Device:
    """Set (or clear, with "") the push token of the session's device."""
    with transaction.atomic(using=DB):
        device = (
            Device.objects.using(DB).select_for_update().filter(sessions__pk=session_id).first()
        )
        if device is None:
            raise SessionRevokedError()
        if device.push_token != push_token:
            device.push_token = push_token
            device.save(using=DB, update_fields=["push_token"])
            _publish_push_token(device)
    return device
