"""The revocation list: sessions signed out before their access tokens expire.

An entry lives as long as an access token can (`CLEAVE_ACCESS_TOKEN_SECONDS`), in the shared
cache (Redis in real mode). Each process also remembers "not revoked" answers for
`CLEAVE_REVOCATION_RECHECK_SECONDS` (1 s), so a hot session costs one cache round trip per
second instead of one per request: another process's sign-out is seen within that second,
this process's at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache

_PREFIX = "cleave:revoked-session:"
_MEMO_SIZE = 50_000


class _RecentlyLive:
    def __init__(self) -> None:
        self._checked: dict[str, float] = {}
        self._lock = threading.Lock()

    def fresh(self, session_id: str, now: float) -> bool:
        checked = self._checked.get(session_id)
        return checked is not None and now - checked < settings.CLEAVE_REVOCATION_RECHECK_SECONDS

    def remember(self, session_id: str, now: float) -> None:
        with self._lock:
            if len(self._checked) >= _MEMO_SIZE:
                self._checked.clear()  # crude but bounded: the next second refills it
            self._checked[session_id] = now

    def forget(self, session_id: str | None = None) -> None:
        with self._lock:
            if session_id is None:
                self._checked.clear()
            else:
                self._checked.pop(session_id, None)


_recently_live = _RecentlyLive()


def revoke(session_id: str) -> None:
    """Refuse the session's tokens from now on, and close its sockets in every process."""
    from cleave.realtime.hub import close_session

    cache.set(f"{_PREFIX}{session_id}", 1, timeout=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60)
    _recently_live.forget(session_id)
    close_session(session_id)


def is_revoked(session_id: str) -> bool:
    return session_id in revoked_among([session_id])


def revoked_among(session_ids: Iterable[str]) -> set[str]:
    """The revoked ones of `session_ids`: one cache round trip for all of them (sockets that
    reconnect together are checked together). The only place that reads the list."""
    now = time.monotonic()
    unsure = [sid for sid in dict.fromkeys(session_ids) if not _recently_live.fresh(sid, now)]
    if not unsure:
        return set()
    found = cache.get_many([f"{_PREFIX}{sid}" for sid in unsure])
    revoked = {sid for sid in unsure if found.get(f"{_PREFIX}{sid}") is not None}
    for sid in unsure:
        if sid not in revoked:
            _recently_live.remember(sid, now)
    return revoked


def forget_checks() -> None:
    """Drop the per-process memory of live sessions (tests)."""
    _recently_live.forget()
