"""Where verifying processes get identity's public keys (a JWKS).

In the monolith identity registers an in-process source at app-ready time; a process that does
not host identity sets `CLEAVE_JWKS_URL` and fetches `/.well-known/jwks.json` over HTTP. Keys are
kept in memory briefly, and an unknown `kid` (a key rotated in moments ago) triggers a refresh,
at most once a second.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import jwt
from django.conf import settings

logger = logging.getLogger(__name__)

Jwks = dict[str, Any]
_REFRESH_EVERY = 60.0
_MIN_REFRESH_GAP = 1.0

_source: Callable[[], Jwks] | None = None


def register_source(source: Callable[[], Jwks]) -> None:
    """Identity calls this from ready(): `source()` returns the current JWKS dict."""
    global _source  # one process-wide source, set once at start-up
    _source = source
    _cache.forget()


def _fetch_url() -> Jwks:
    url = settings.CLEAVE_JWKS_URL
    if not url:
        raise RuntimeError("CLEAVE_JWKS_URL is not set")
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - configured URL
        loaded: Jwks = json.loads(response.read())
    return loaded


def _current_source() -> Callable[[], Jwks]:
    if _source is not None:
        return _source
    if getattr(settings, "CLEAVE_JWKS_URL", None):
        return _fetch_url
    raise RuntimeError("no JWKS source: host identity, or set CLEAVE_JWKS_URL")


class _KeyCache:
    def __init__(self) -> None:
        self._keys: dict[str, jwt.PyJWK] = {}
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def forget(self) -> None:
        with self._lock:
            self._keys, self._loaded_at = {}, 0.0

    def get(self, kid: str) -> jwt.PyJWK | None:
        now = time.monotonic()
        if now - self._loaded_at > _REFRESH_EVERY or (
            kid not in self._keys and now - self._loaded_at > _MIN_REFRESH_GAP
        ):
            self._refresh(now)
        return self._keys.get(kid)

    def _refresh(self, now: float) -> None:
        with self._lock:
            try:
                jwks = _current_source()()
            except Exception:
                # Keep verifying with the keys we have; a stale JWKS beats refusing everyone.
                logger.exception(
                    "could not load the JWKS; keeping %d cached key(s)", len(self._keys)
                )
                self._loaded_at = now
                return
            self._keys = {key["kid"]: jwt.PyJWK(key) for key in jwks.get("keys", [])}
            self._loaded_at = now


_cache = _KeyCache()


def public_key(kid: str) -> jwt.PyJWK | None:
    return _cache.get(kid)


def forget_keys() -> None:
    """Drop cached keys (after a rotation in this process, and in tests)."""
    _cache.forget()
