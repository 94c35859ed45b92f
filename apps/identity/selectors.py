"""Reads of the identity context."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.identity.models import Block, Session, SigningKey, User
from cleave.api import ID_MAX
from cleave.auth.principal import ROLES
from cleave.contexts import declared_roles
from cleave.databases import database_for

DB = database_for("identity")
PROFILE_CACHE_SECONDS = 300
PROFILE_MEMO_SECONDS = 1.0
_recent_profiles: dict[int, tuple[dict[str, Any], float]] = {}
_recent_records: dict[int, tuple[dict[str, Any], float]] = {}


def _storable(user_id: int) -> bool:
    # Ids beyond the column's range name nobody; some databases raise on them instead.
    return 0 < user_id <= ID_MAX


def user_get(*, user_id: int) -> User | None:
    if not _storable(user_id):
        return None
    return User.objects.using(DB).filter(pk=user_id).first()


def user_list(*, user_ids: list[int]) -> list[User]:
    storable = [user_id for user_id in user_ids if _storable(user_id)]
    found = {user.pk: user for user in User.objects.using(DB).filter(pk__in=storable)}
    return [found[user_id] for user_id in dict.fromkeys(user_ids) if user_id in found]


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.using(DB).filter(email__iexact=email.strip()).first()


def user_role_list(*, user: User) -> frozenset[str]:
    """Every account is a `user`; groups named after roles add the others: the kernel's and
    those the contexts declare (a door scanner's "scanner"). Other groups only carry Django
    permissions for the admin."""
    named = {*ROLES, *declared_roles()}
    roles = {"user", *user.groups.filter(name__in=named).values_list("name", flat=True)}
    if user.is_superuser:
        roles.add("admin")
    if user.is_staff:
        roles.add("staff")
    return frozenset(roles)


def session_list(*, user_id: int) -> QuerySet[Session]:
    """The user's live sessions, most recently seen first."""
    return (
        Session.objects.using(DB)
        .filter(user_id=user_id, revoked_at__isnull=True)
        .select_related("device")
    )


def session_revoked_list(*, session_ids: list[str]) -> list[str]:
    """Those of `session_ids` whose tokens must be refused: revoked, or no such session."""
    parsed: dict[str, uuid.UUID] = {}
    for session_id in session_ids:
        try:
            parsed[session_id] = uuid.UUID(session_id)
        except ValueError:
            continue  # not a session id at all: unknown, so refused
    live = set(
        Session.objects.using(DB)
        .filter(pk__in=set(parsed.values()), revoked_at__isnull=True)
        .values_list("pk", flat=True)
    )
    return [sid for sid in dict.fromkeys(session_ids) if parsed.get(sid) not in live]


def jwks_get() -> dict[str, Any]:
    """The public keys that verify live tokens: the active key and recently retired ones."""
    still_valid = timezone.now() - timedelta(seconds=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60)
    keys = SigningKey.objects.using(DB).filter(
        Q(retired_at__isnull=True) | Q(retired_at__gt=still_valid)
    )
    return {"keys": [key.public_jwk for key in keys.order_by("-created_at")]}


def _profile_key(user_id: int) -> str:
    # v2: the profile gained `email_verified`; entries of the previous shape are never read.
    return f"identity:profile:v2:{user_id}"


def user_profile_get(*, user_id: int) -> dict[str, Any] | None:
    """The signed-in user's own profile (with roles), cached: `GET /me` is the hottest read."""

    def load() -> dict[str, Any] | None:
        user = User.objects.using(DB).filter(pk=user_id, is_active=True).first()
        if user is None:
            return None
        return {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "locale": user.locale,
            "timezone": user.timezone,
            "roles": sorted(user_role_list(user=user)),
            "email_verified": user.email_verified,
        }

    return _cached(_recent_profiles, _profile_key(user_id), user_id, load)


def user_record_get(*, user_id: int) -> dict[str, Any] | None:
    """What other contexts ask about an account (id, email, display name, active, verified),
    cached like the profile and forgotten with it: contract reads (`user_get`, `user_status`)
    are on other contexts' hot paths, over HTTP in split mode."""

    def load() -> dict[str, Any] | None:
        user = user_get(user_id=user_id)
        if user is None:
            return None
        return {
            "id": user.pk,
            "email": user.email,
            "display_name": user.display_name,
            "is_active": user.is_active,
            "email_verified": user.email_verified,
        }

    return _cached(_recent_records, _record_key(user_id), user_id, load)


def _cached(
    memo: dict[int, tuple[dict[str, Any], float]],
    key: str,
    user_id: int,
    load: Callable[[], dict[str, Any] | None],
) -> dict[str, Any] | None:
    """Two levels: the shared cache (writers call `user_profile_forget` after commit, so it never
    outlives a change), and this process's memory for `PROFILE_MEMO_SECONDS`, so a busy caller
    costs one cache round trip per second — another process's change shows within that second.
    "No such account" is never cached: an account created a moment later must be seen."""
    now = time.monotonic()
    remembered = memo.get(user_id)
    if remembered is not None and now - remembered[1] < PROFILE_MEMO_SECONDS:
        return remembered[0]
    value: dict[str, Any] | None = cache.get(key)
    if value is None:
        value = load()
        if value is None:
            return None
        cache.set(key, value, timeout=PROFILE_CACHE_SECONDS)
    if len(memo) >= 50_000:
        memo.clear()  # bounded; the next second refills what is hot
    memo[user_id] = (value, now)
    return value


def _record_key(user_id: int) -> str:
    return f"identity:record:v2:{user_id}"  # v2: with `email_verified`


def user_profile_forget(*, user_id: int) -> None:
    cache.delete_many([_profile_key(user_id), _record_key(user_id)])
    _recent_profiles.pop(user_id, None)
    _recent_records.pop(user_id, None)


def user_profiles_forget_memo() -> None:
    """Drop this process's memory of profiles and records (tests)."""
    _recent_profiles.clear()
    _recent_records.clear()


def user_permission_list(user_id: int) -> frozenset[str]:
    """Every permission an active user has, through groups (roles) or directly."""
    user = User.objects.using(DB).filter(pk=user_id, is_active=True).first()
    return frozenset(user.get_all_permissions()) if user else frozenset()


def block_list(*, blocker_id: int) -> QuerySet[Block]:
    """The users `blocker_id` blocked (with their profiles, for names in one query)."""
    return Block.objects.using(DB).filter(blocker_id=blocker_id).select_related("blocked")
