"""The layered cache of computed lists: a short per-process memory in front of the shared
cache (Django's `default` cache: Redis in real mode, this process's memory in embedded mode).

- **Coalescing**: a miss takes a lock in the shared cache (`add`, i.e. SET NX with a timeout);
  the holder computes and stores, everyone else — in this process or another — polls the shared
  cache for the result. A holder that dies frees the key when the lock times out.
- **Stale-while-revalidate**: past its fresh time an entry is still served, within the grace
  window, while a background thread recomputes it (once: under the same lock), paced so that
  a quiet spell's worth of stale lists does not take the CPU at once (`Revalidations`).
- **Jittered TTLs**: each entry's fresh time is ±10 % of the setting, so lists computed in the
  same second do not all expire in the same second.
- **Invalidation**: `user_invalidate` deletes a user's lists from the shared cache and from
  this process's memory; other processes' memory forgets them within twice the memory TTL (an
  entry past it is served once more while it is refetched: `serving.serve`). Lists nothing
  invalidates (the popular and area lists) stay in memory until their fresh time ends, and are
  served from it, refetched in the background, until their grace ends.

Failures of the shared cache propagate: the serving layer (`serving.py`) turns them into the
degraded answer and counts them in its circuit breaker.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.db import connections

from apps.recommendations.config import setting
from apps.recommendations.services.ranking import VARIANTS

logger = logging.getLogger(__name__)

Compute = Callable[[], Any]
# How often a waiter looks for the lock holder's result.
POLL_SECONDS = 0.01
# Beyond this many keys the memory layer starts again (it holds a second's worth of reads).
MEMORY_MAX_KEYS = 10_000
# Counts computations across processes (tests and the benchmark read it).
COMPUTED_KEY = "recs:computed"
# The share of its one thread's time the revalidations may take while more are queued.
REVALIDATION_SHARE = 0.25
# The longest pause between two revalidations (a slow one does not hold the queue for long).
REVALIDATION_PAUSE_MAX = 0.5


class CoalescingTimeout(Exception):
    """The lock holder's result did not appear in time: the caller falls back."""


@dataclass(frozen=True)
class Entry:
    value: Any
    etag: str
    computed_at: float
    fresh_until: float
    stale_until: float


def shared() -> BaseCache:
    return caches["default"]


def _etag(value: Any) -> str:
    body = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


class LayeredCache:
    def __init__(self) -> None:
        self._memory: dict[str, tuple[float, float, Entry]] = {}  # due at, forgotten at
        self._lock = threading.Lock()

    # --- the memory layer (this process) ---------------------------------------------------
    def memory_get(self, key: str) -> tuple[Entry, bool] | None:
        """The entry and whether it is due. Past its memory time an entry is still returned, due
        (the caller serves it and refetches it in the background, so a hot key never makes a
        request wait for the shared cache): a list events invalidate for as long again, a list
        nothing invalidates until its grace ends (`memory_put`); after that, None."""
        found = self._memory.get(key)
        if found is None:
            return None
        due_at, forget_at, entry = found
        now = time.monotonic()
        if now < due_at:
            return entry, False
        if now < forget_at:
            return entry, True
        return None

    def memory_put(self, key: str, entry: Entry) -> None:
        held = setting("MEMORY_SECONDS")
        servable = 2 * held
        if not invalidated_by_events(key):
            # Nothing deletes this list from the shared cache: it changes there only when it is
            # recomputed past its fresh time, so this process's copy is as good until then. A
            # memory time of 1 s refetched every hot key of every process once a second.
            # (Bounded by the setting: the entry's clock is the computing process's.)
            left = entry.fresh_until - time.time()
            held = max(held, min(left, 1.1 * setting("FRESH_SECONDS")))
            # And past it, served (due) for as long as the shared layer itself would serve it
            # stale: the first reads after a quiet spell do not wait for the shared cache while
            # every area list is revalidated at once (bench/recommendations: a surge after 20 s
            # of quiet spent its first second waiting on ~90 such fetches).
            grace = entry.stale_until - entry.fresh_until
            servable = max(servable, min(left + grace, 1.1 * setting("FRESH_SECONDS") + grace))
        now = time.monotonic()
        with self._lock:
            if len(self._memory) >= MEMORY_MAX_KEYS:
                self._memory.clear()
            self._memory[key] = (now + held, now + servable, entry)

    def memory_forget(self, *keys: str) -> None:
        with self._lock:
            if not keys:
                self._memory.clear()
            for key in keys:
                self._memory.pop(key, None)

    # --- the shared layer ------------------------------------------------------------------
    def fetch(self, key: str, compute: Compute) -> tuple[Entry, str]:
        """The entry for `key` and where it came from (`shared`, `stale`, `computed`,
        `coalesced`). Raises what the shared cache or `compute` raise, or CoalescingTimeout."""
        store = shared()
        entry: Entry | None = store.get(key)
        now = time.time()
        protections = bool(setting("PROTECTIONS"))
        if entry is not None and now < entry.fresh_until:
            return entry, "shared"
        if protections and entry is not None and now < entry.stale_until:
            revalidations.schedule(key, compute, self._revalidate)
            return entry, "stale"
        if not protections:
            return self._compute_store(store, key, compute), "computed"
        token = self._lock_take(store, key)
        if token:
            try:
                return self._compute_store(store, key, compute), "computed"
            finally:
                self._lock_release(store, key, token)
        return self._wait_for(store, key), "coalesced"

    def _wait_for(self, store: BaseCache, key: str) -> Entry:
        give_up = time.monotonic() + setting("LOCK_SECONDS")
        while time.monotonic() < give_up:
            time.sleep(POLL_SECONDS)
            entry: Entry | None = store.get(key)
            if entry is not None and time.time() < entry.fresh_until:
                return entry
        raise CoalescingTimeout(key)

    def _compute_store(self, store: BaseCache, key: str, compute: Compute) -> Entry:
        value = compute()
        now = time.time()
        fresh = setting("FRESH_SECONDS") * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not a secret
        entry = Entry(
            value=value,
            etag=_etag(value),
            computed_at=now,
            fresh_until=now + fresh,
            stale_until=now + fresh + setting("GRACE_SECONDS"),
        )
        store.set(key, entry, timeout=int(fresh + setting("GRACE_SECONDS")) + 1)
        self._count_computed(store, key)
        return entry

    def refresh_later(self, key: str, compute: Compute) -> None:
        """Bring this process's copy of a list nothing invalidates up to date in the background,
        on the paced revalidation thread: the copy is served meanwhile, as the shared layer
        serves a stale entry, so no request waits and a quiet spell's worth of due lists does
        not become a burst of fetches (8 fetch threads and a recomputation contending for the
        GIL stopped a surge's first 200 ms: bench/recommendations)."""
        revalidations.schedule(key, compute, self._revalidate)

    def _revalidate(self, key: str, compute: Compute) -> None:
        """Recompute a stale entry, unless another process did meanwhile (then its entry is
        taken into memory) or is doing it now."""
        store = shared()
        try:
            entry: Entry | None = store.get(key)
            if entry is not None and time.time() < entry.fresh_until:
                self.memory_put(key, entry)
                return
            token = self._lock_take(store, key)
            if not token:
                return
            try:
                self.memory_put(key, self._compute_store(store, key, compute))
            finally:
                self._lock_release(store, key, token)
        except Exception:
            # The stale entry stays until its grace ends; the next stale read tries again.
            logger.warning("recommendations: revalidating %s failed", key, exc_info=True)

    @staticmethod
    def _lock_take(store: BaseCache, key: str) -> str | None:
        token = uuid.uuid4().hex
        taken = store.add(f"{key}:lock", token, timeout=max(1, int(setting("LOCK_SECONDS"))))
        return token if taken else None

    @staticmethod
    def _lock_release(store: BaseCache, key: str, token: str) -> None:
        # Compare, then delete: not atomic through Django's cache API, but a lock that expired
        # and was taken by another computer in between only costs that key one more computation.
        try:
            if store.get(f"{key}:lock") == token:
                store.delete(f"{key}:lock")
        except Exception:
            logger.warning("recommendations: releasing the lock of %s failed", key, exc_info=True)

    @staticmethod
    def _count_computed(store: BaseCache, key: str) -> None:
        try:
            for counter in (COMPUTED_KEY, f"{COMPUTED_KEY}:{key}"):
                store.add(counter, 0, timeout=None)
                store.incr(counter)
        except Exception:
            logger.debug("recommendations: the computation counter is unavailable", exc_info=True)

    def invalidate(self, *keys: str) -> None:
        self.memory_forget(*keys)
        shared().delete_many(list(keys))


class Revalidations:
    """Stale entries recomputed in the background, one at a time, each key queued once per
    process, and paced: they are not urgent (the stale entry is served through the grace
    window), so they take at most REVALIDATION_SHARE of a thread while others wait. After a
    quiet spell every hot list is stale at once; recomputed back to back (~7 ms of CPU each)
    they held the GIL through a surge's first half second, and its requests queued behind them
    (bench/recommendations)."""

    def __init__(self) -> None:
        self._queued: set[str] = set()
        self._lock = threading.Lock()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recs-revalidate")

    def schedule(self, key: str, compute: Compute, run: Callable[[str, Compute], None]) -> None:
        with self._lock:
            if key in self._queued:
                return
            self._queued.add(key)
        self._thread.submit(self._run, key, compute, run)

    def _run(self, key: str, compute: Compute, run: Callable[[str, Compute], None]) -> None:
        started = time.perf_counter()
        try:
            run(key, compute)
        finally:
            with self._lock:
                self._queued.discard(key)
                more = bool(self._queued)
            if more:  # keep this thread's connection for the next one
                busy = time.perf_counter() - started
                time.sleep(min(busy * (1 / REVALIDATION_SHARE - 1), REVALIDATION_PAUSE_MAX))
            else:
                connections.close_all()  # this thread's: an idle pool thread holds none open

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for the revalidations queued so far (tests, before the database goes away)."""
        self._thread.submit(lambda: None).result(timeout=timeout)


layered = LayeredCache()
revalidations = Revalidations()


def revalidations_settle(timeout: float = 10.0) -> None:
    revalidations.settle(timeout)


def computed_count(key: str | None = None) -> int:
    """Computations across every process since the counter was set (tests, the benchmark): of
    every key, or of `key`."""
    return int(shared().get(COMPUTED_KEY if key is None else f"{COMPUTED_KEY}:{key}") or 0)


_USER_PREFIX = "recs:u:"


def user_key(user_id: int, variant: str) -> str:
    return f"{_USER_PREFIX}{user_id}:{variant}"


_CELL_PREFIX = "recs:cell:"


def cell_key(cell: str) -> str:
    return f"{_CELL_PREFIX}{cell}"


POPULAR_KEY = "recs:popular"


def invalidated_by_events(key: str) -> bool:
    """A user's lists are deleted when an event changes what they bought or visited
    (`user_invalidate`); the popular list and the area lists are the same for everyone and
    change only when recomputed. Any other key is treated as invalidated: the safe side."""
    return not (key == POPULAR_KEY or key.startswith(_CELL_PREFIX))


def user_invalidate(*, user_id: int) -> None:
    """Forget a user's lists (every variant): their next read computes them again. Runs after
    the commit that changed what they bought or visited; a shared cache that is down cannot be
    told, and then the entry's fresh time bounds how long the old list is served."""
    try:
        layered.invalidate(*(user_key(user_id, variant) for variant in VARIANTS))
    except Exception:
        logger.warning("recommendations: invalidating user %s failed", user_id, exc_info=True)
