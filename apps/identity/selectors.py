"""Reads of the identity context."""

from __future__ import annotations

from apps.identity.models import User


def user_get(*, user_id: int) -> User | None:
    return User.objects.filter(pk=user_id).first()
