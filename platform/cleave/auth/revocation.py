"""The revocation list: sessions signed out before their access tokens expire.

The session rows of the context that signs users in are the truth; the cache only remembers
answers. `revoke` marks a session revoked in the shared cache (Redis in real mode) for as long
as an access token can live. A check that finds nothing there — after a restart (embedded
mode's cache is process memory), a flushed, evicted or failed-over Redis, or simply a session
not seen for a while — asks the owner of the sessions through the `sessions` contract: in
process when it is hosted here, over HTTP (CLEAVE_SESSIONS_URL) otherwise, concurrent misses in
one call. If no answer comes, the token is refused (503 `revocation_unknown`): a cache miss
never reads as "not revoked".

A caller may bound its own wait (`wait`): it then never asks in its own thread, because an
owner in process with its database down takes as long as the database pool waits for a
connection (10 s) before it fails; the call goes on in a background thread (one at a time, as
every call) and the caller is told `revocation_unknown` when its time is up.

"Not revoked" answers are cached for `CLEAVE_REVOCATION_LIVE_SECONDS` with `add` (never over a
revocation), and `revoke` overwrites them, so a sign-out is seen at once everywhere; the TTL
only bounds how long a revocation whose cache write failed goes unseen. Each process also
trusts its last "not revoked" answer for `CLEAVE_REVOCATION_RECHECK_SECONDS` (1 s), so a hot
session costs one cache round trip per second instead of one per request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import cache
from django.db import connections

from cleave.auth.errors import RevocationUnknown
from cleave.contracts.registry import client
from cleave.errors import CleaveError
from contracts.sessions import SESSIONS, SessionsCheck, SessionsService

logger = logging.getLogger(__name__)
_PREFIX = "cleave:revoked-session:"
_REVOKED, _LIVE = 1, 0
_MEMO_SIZE = 50_000
_BATCH = 500  # the contract's limit per call
Ask = Callable[[list[str]], set[str]]


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
_owner = client(SESSIONS, SessionsService)


def _ask_owner(session_ids: list[str]) -> set[str]:
    """The revoked (or unknown) ones of `session_ids`, from the owner of the sessions."""
    answer = _owner.sessions_revoked(SessionsCheck(session_ids=session_ids))
    return set(answer.revoked)


class _Batcher:
    """Concurrent misses share calls: the first asker calls for every session asked about
    while its call is on the way, until none is left; the others wait for their answer."""

    def __init__(self) -> None:
        self.ask: Ask = _ask_owner
        self._pending: dict[str, Future[bool]] = {}
        self._calling = False
        self._lock = threading.Lock()

    def revoked(self, session_ids: list[str], wait: float | None = None) -> set[str]:
        """The revoked ones of `session_ids`, asked in as few calls as the moment allows;
        RevocationUnknown if no answer came within `wait` seconds (default: three remote
        timeouts, and the first asker leads the calls in its own thread)."""
        with self._lock:
            answers = {
                session_id: self._pending.setdefault(session_id, Future())
                for session_id in session_ids
            }
            lead = not self._calling
            self._calling = self._calling or lead
        if lead and wait is None:
            self._call_until_done()
        elif lead:
            # Bounded: the call may outlast the caller (an in-process owner whose database is
            # down waits for the pool's timeout), so it runs on a thread of its own; one is
            # enough, as one call at a time is under way.
            _asker.submit(self._call_in_background)
        if wait is None:
            wait = settings.CLEAVE_REMOTE_TIMEOUT_SECONDS * 3
        deadline = time.monotonic() + wait
        try:
            return {
                session_id
                for session_id, answer in answers.items()
                if answer.result(timeout=max(deadline - time.monotonic(), 0.0))
            }
        except FutureTimeout:
            raise RevocationUnknown() from None

    def _call_in_background(self) -> None:
        try:
            self._call_until_done()
        except BaseException:  # every waiter got the error already; nobody to raise it to
            logger.warning("asking whether sessions are revoked failed", exc_info=True)
        finally:
            connections.close_all()  # this thread's own: back to the pool, none kept open

    def _call_until_done(self) -> None:
        while True:
            with self._lock:
                batch = dict(list(self._pending.items())[:_BATCH])
                for session_id in batch:
                    del self._pending[session_id]
                if not batch:
                    self._calling = False
                    return
            try:
                revoked = self.ask(list(batch))
            except CleaveError as error:
                logger.warning("cannot tell whether sessions are revoked: %s", error.code)
                for answer in batch.values():
                    answer.set_exception(RevocationUnknown())
                continue
            except BaseException as error:  # never leave the others waiting
                with self._lock:
                    batch.update(self._pending)
                    self._pending.clear()
                    self._calling = False
                for answer in batch.values():
                    answer.set_exception(error)
                raise
            for session_id, answer in batch.items():
                answer.set_result(session_id in revoked)


_batcher = _Batcher()
_asker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cleave-revocation")


def revoke(session_id: str) -> None:
    """Refuse the session's tokens from now on, and close its sockets in every process.

    Called after the owner committed the revocation to its rows: if the cache cannot be
    written, the rows still refuse the session once cached "not revoked" answers expire.
    """
    from cleave.realtime.hub import close_session

    _recently_live.forget(session_id)
    try:
        cache.set(f"{_PREFIX}{session_id}", _REVOKED, timeout=_revoked_seconds())
    except Exception:
        logger.exception("could not write revocation of session %s to the cache", session_id)
    close_session(session_id)


def is_revoked(session_id: str) -> bool:
    """Whether tokens of the session must be refused; raises RevocationUnknown (503) when
    neither the cache nor the owner of the sessions can tell."""
    return session_id in revoked_among([session_id])


def revoked_among(session_ids: Iterable[str], *, wait: float | None = None) -> set[str]:
    """The revoked ones of `session_ids`: one cache round trip for all of them (sockets that
    reconnect together are checked together), one call to the owner for what the cache does
    not know. The only place that reads the list; raises RevocationUnknown (503) when neither
    can tell, or when, the cache being unreadable, the owner did not answer within `wait`
    seconds (when given: a caller with a deadline of its own)."""
    now = time.monotonic()
    unsure = [sid for sid in dict.fromkeys(session_ids) if not _recently_live.fresh(sid, now)]
    if not unsure:
        return set()
    keys = {sid: f"{_PREFIX}{sid}" for sid in unsure}
    try:
        known = cache.get_many(list(keys.values()))
        # A plain cache miss (a new session, an expired entry) waits as every caller does: a
        # slow owner (a cold service in split mode) must not turn into `revocation_unknown`.
        wait = None
    except Exception:
        logger.warning("revocation cache unreadable; asking the owner of the sessions")
        known = {}
    revoked = {sid for sid in unsure if known.get(keys[sid], _LIVE) != _LIVE}
    missing = [sid for sid in unsure if keys[sid] not in known]
    if missing:
        asked = _batcher.revoked(missing, wait)
        for sid in missing:
            _remember_answer(keys[sid], revoked=sid in asked)
        revoked |= asked
    for sid in unsure:
        if sid not in revoked:
            _recently_live.remember(sid, now)
    return revoked


def _remember_answer(key: str, *, revoked: bool) -> None:
    try:
        if revoked:
            cache.set(key, _REVOKED, timeout=_revoked_seconds())
        else:
            # add, not set: a revocation written since the owner answered must win.
            cache.add(key, _LIVE, timeout=settings.CLEAVE_REVOCATION_LIVE_SECONDS)
    except Exception:
        logger.warning("could not cache a revocation answer")


def _revoked_seconds() -> int:
    return int(settings.CLEAVE_ACCESS_TOKEN_SECONDS) + 60


def swap_source(ask: Ask) -> Ask:
    """Answer misses with `ask(session_ids) -> revoked ids` instead of the contract; returns
    the previous source (tests: `cleave.auth.testing` vouches for the sessions it signs)."""
    previous, _batcher.ask = _batcher.ask, ask
    return previous


def forget_checks() -> None:
    """Drop the per-process memory of live sessions (tests)."""
    _recently_live.forget()
