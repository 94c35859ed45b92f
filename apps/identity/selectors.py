"""Reads of the identity context."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from apps.identity.models import Device, Session, SigningKey, User
from cleave.auth.principal import ROLES
from cleave.databases import database_for

DB = database_for("identity")


def user_get(*, user_id: int) -> User | None:
    return User.objects.using(DB).filter(pk=user_id).first()


def users_get(*, user_ids: list[int]) -> list[User]:
    found = {user.pk: user for user in User.objects.using(DB).filter(pk__in=user_ids)}
    return [found[user_id] for user_id in dict.fromkeys(user_ids) if user_id in found]


def user_get_by_email(*, email: str) -> User | None:
    return User.objects.using(DB).filter(email__iexact=email.strip()).first()


def user_roles(*, user: User) -> frozenset[str]:
    """Every account is a `user`; groups named after roles add the others."""
    roles = {"user", *user.groups.filter(name__in=ROLES).values_list("name", flat=True)}
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


def session_get_live(*, session_id: str, user_id: int) -> Session | None:
    return session_list(user_id=user_id).filter(pk=session_id).first()


def device_of_session(*, session_id: str) -> Device | None:
    session = Session.objects.using(DB).select_related("device").filter(pk=session_id).first()
    return session.device if session else None


def jwks() -> dict[str, Any]:
    """The public keys that verify live tokens: the active key and recently retired ones."""
    still_valid = timezone.now() - timedelta(seconds=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60)
    keys = SigningKey.objects.using(DB).filter(
        Q(retired_at__isnull=True) | Q(retired_at__gt=still_valid)
    )
    return {"keys": [key.public_jwk for key in keys.order_by("-created_at")]}
