"""Serving a list: the memory layer, then the shared layer under a deadline and a circuit
breaker, else the degraded answer — never an error for a read.

The degraded answer is the last good list this process served for the key, else the popular
list's snapshot in this process's memory (refreshed whenever the popular list is served), else
an empty list; it is marked `degraded`. The breaker opens after
CLEAVE_RECOMMENDATIONS_BREAKER_FAILURES failures in a row (ranking, database, shared cache or
deadline) and lets one request try again after CLEAVE_RECOMMENDATIONS_BREAKER_RESET_SECONDS,
so a dead store costs each request nothing while it is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from django.db import connections

from apps.recommendations.config import setting
from apps.recommendations.services.cache import (
    POPULAR_KEY,
    Compute,
    Entry,
    invalidated_by_events,
    layered,
    revalidations_settle,
)

logger = logging.getLogger(__name__)
# Last good lists kept per process for the fallback: the most recently served keys.
LAST_GOOD_MAX = 20_000
# Threads that reach the shared cache and the database for requests (the deadline is kept by
# waiting on them); a request whose key is already being fetched here waits on that fetch.
_fetchers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="recs-fetch")


@dataclass(frozen=True)
class Served:
    value: Any
    etag: str
    degraded: bool
    # memory, memory_due, shared, stale, computed, coalesced, last_good, popular_snapshot, empty
    source: str


class CircuitBreaker:
    def __init__(self) -> None:
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Closed: yes. Open: no, except one trial request once the reset time has passed."""
        with self._lock:
            if self._opened_at is None:
                return True
            reset = setting("BREAKER_RESET_SECONDS")
            if not self._trial and time.monotonic() - self._opened_at >= reset:
                self._trial = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial = False
            if self._failures >= int(setting("BREAKER_FAILURES")):
                self._opened_at = time.monotonic()

    @property
    def open(self) -> bool:
        return self._opened_at is not None


breaker = CircuitBreaker()
_last_good: OrderedDict[str, Entry] = OrderedDict()
# The popular list as last served here: kept apart from the last good lists (never evicted).
_popular: list[Entry] = []
_popular_at: list[float] = [0.0]
_inflight: dict[str, Future[tuple[Entry, str]]] = {}
_state_lock = threading.Lock()


def _fetch(key: str, compute: Compute) -> tuple[Entry, str]:
    try:
        return layered.fetch(key, compute)
    finally:
        connections.close_all()  # this pool thread's connections: none kept by an idle thread


def _single_flight(key: str, compute: Compute) -> Future[tuple[Entry, str]]:
    if not setting("PROTECTIONS"):  # the benchmark's baseline: every request fetches alone
        return _fetchers.submit(_fetch, key, compute)
    with _state_lock:
        future = _inflight.get(key)
        if future is None:
            future = _fetchers.submit(_fetch, key, compute)
            _inflight[key] = future
            future.add_done_callback(lambda _: _inflight.pop(key, None))
        return future


def serve(key: str, compute: Compute) -> Served:
    found = layered.memory_get(key)
    if found is not None:
        entry, due = found
        if not due:
            return Served(entry.value, entry.etag, degraded=False, source="memory")
        if setting("PROTECTIONS") and not breaker.open:
            # Served from memory while one fetch per process refreshes it: at a surge, requests
            # waiting on that fetch (a thread hand-off, Redis, unpickling) every memory time
            # doubled the p99 of cache hits (bench/recommendations).
            if invalidated_by_events(key):
                _refresh(key, compute)
            else:
                layered.refresh_later(key, compute)
            return Served(entry.value, entry.etag, degraded=False, source="memory_due")
    if not breaker.allow():
        return _fallback(key)
    try:
        entry, source = _single_flight(key, compute).result(timeout=setting("DEADLINE_SECONDS"))
    except FutureTimeout:
        logger.warning("recommendations: %s passed its deadline", key)
        breaker.failure()
        return _fallback(key)
    except Exception:
        logger.warning("recommendations: serving %s failed", key, exc_info=True)
        breaker.failure()
        return _fallback(key)
    breaker.success()
    _remember(key, entry)
    return Served(entry.value, entry.etag, degraded=False, source=source)


def _remember(key: str, entry: Entry) -> None:
    """A list fetched well: into the memory layer, the last good lists and the snapshot."""
    layered.memory_put(key, entry)
    with _state_lock:
        _last_good[key] = entry
        _last_good.move_to_end(key)
        while len(_last_good) > LAST_GOOD_MAX:
            _last_good.popitem(last=False)
        if key == POPULAR_KEY:
            _popular[:] = [entry]
            _popular_at[0] = time.monotonic()


def _refresh(key: str, compute: Compute) -> None:
    """Refetch a due memory entry in the background, unless a fetch of it is under way here."""
    with _state_lock:
        if key in _inflight:
            return

    def settled(future: Future[tuple[Entry, str]]) -> None:
        error = future.exception()
        if error is not None:
            logger.warning("recommendations: refreshing %s failed: %r", key, error)
            breaker.failure()  # the next read past the memory time takes the fallback path
            return
        breaker.success()
        _remember(key, future.result()[0])

    _single_flight(key, compute).add_done_callback(settled)


def snapshot_refresh(compute: Compute) -> None:
    """Keep the popular snapshot warm without making the caller wait: refetched (usually a
    shared-cache hit) in the background once it is older than a list's fresh time."""
    if time.monotonic() - _popular_at[0] < setting("FRESH_SECONDS"):
        return
    _popular_at[0] = time.monotonic()  # one refresh at a time; a failed one retries later

    def keep(future: Future[tuple[Entry, str]]) -> None:
        if future.exception() is None:
            with _state_lock:
                _popular[:] = [future.result()[0]]

    _single_flight(POPULAR_KEY, compute).add_done_callback(keep)


def _fallback(key: str) -> Served:
    with _state_lock:
        entry = _last_good.get(key)
        source = "last_good"
        if entry is None and _popular:
            entry, source = _popular[0], "popular_snapshot"
    if entry is None:
        return Served([], '"empty"', degraded=True, source="empty")
    return Served(entry.value, entry.etag, degraded=True, source=source)


def settle(timeout: float = 10.0) -> None:
    """Wait for the fetches and revalidations under way (tests: before the database is emptied
    under them)."""
    with _state_lock:
        pending = list(_inflight.values())
    for future in pending:
        future.exception(timeout=timeout)
    revalidations_settle(timeout)


def forget() -> None:
    """This process's memory of lists, last good answers and the breaker (tests, between them)."""
    layered.memory_forget()
    breaker.success()
    with _state_lock:
        _last_good.clear()
        _popular.clear()
        _popular_at[0] = 0.0
