"""The revocation list: sessions signed out before their access tokens expire.

An entry lives as long as an access token can (`CLEAVE_ACCESS_TOKEN_SECONDS`), in the shared
cache (Redis in real mode), so every process refuses the session's tokens within seconds.
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

_PREFIX = "cleave:revoked-session:"


def revoke(session_id: str) -> None:
    cache.set(f"{_PREFIX}{session_id}", 1, timeout=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60)


def is_revoked(session_id: str) -> bool:
    return cache.get(f"{_PREFIX}{session_id}") is not None
