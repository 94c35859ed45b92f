"""Rate limits for ninja routes and growing back-off for logins, counted atomically in the cache.

    @router.post("/login", throttle=[RateLimit("5/m", scope="login", key="ip")])

Why not ninja's `SimpleRateThrottle`: it reads a list of timestamps from the cache, edits it and
writes it back. Two processes (or threads) doing that at once both read the same history and
both let their request through, so the limit only holds in a single thread. Here every count is
atomic: INCR and EXPIRE NX in one MULTI on Redis (one round trip), `cache.add(key, 0)` then
`cache.incr(key)` under LocMem's lock, so the limit is exact in real and embedded mode alike.

Windows are fixed and aligned to their size (the key holds the window number): simple and
atomic, at the price of letting up to twice the rate through across a window boundary.

Cache errors (Redis down) propagate: a limit that silently stops limiting is not a limit.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, Literal

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from ninja.throttling import BaseThrottle

from cleave.errors import Throttled
from cleave.observability import metrics

__all__ = ["Backoff", "Clock", "KeyFunc", "RateLimit", "client_ip"]

Clock = Callable[[], float]
KeyFunc = Callable[[HttpRequest], str | None]

PREFIX = "cleave:rl"
_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"^(?P<count>[1-9]\d*)/(?P<size>[1-9]\d{0,5})?(?P<unit>[smhd])$")
_SCOPE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Identifiers kept readable in keys; anything else (an e-mail, a long or odd string) is hashed,
# which also keeps personal data out of Redis key names.
_READABLE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# Keeps a window's key alive a little past its window, so a request that read the window number
# just before the boundary never increments a key Redis has already expired (INCR would then
# create it without a TTL).
_GRACE_SECONDS = 5

# ninja keeps one throttle per route and calls allow_request() then wait() on it from every
# thread; the wait belongs to the request, so it lives in the request's context, not on `self`.
_denied_wait: ContextVar[tuple[int, float] | None] = ContextVar("cleave_denied_wait", default=None)


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or X-Forwarded-For as seen by our outermost proxy.

    `CLEAVE_TRUSTED_PROXIES` is how many proxies we run in front of Django; each appends the
    address it saw, so the client is the Nth entry from the right. Entries further left are
    whatever the client sent and are never trusted.
    """
    remote = str(request.META.get("REMOTE_ADDR") or "unknown")
    proxies = int(getattr(settings, "CLEAVE_TRUSTED_PROXIES", 0))
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in str(forwarded).split(",")]
    return hops[-min(proxies, len(hops))] or remote


def _cache_key(*parts: str) -> str:
    ident = parts[-1]
    if not _READABLE.match(ident):
        ident = "sha256-" + hashlib.sha256(ident.encode()).hexdigest()
    return ":".join((PREFIX, *parts[:-1], ident))


def _count(cache: BaseCache, key: str, timeout: int) -> int:
    """Adds one to `key` (created at 0 with `timeout`) and returns the new count, atomically."""
    if isinstance(cache, RedisCache):
        return _count_redis(cache, key, timeout)
    for _ in range(3):
        cache.add(key, 0, timeout=timeout)
        try:
            return int(cache.incr(key))
        except ValueError:  # expired or evicted between add and incr: create it again
            continue
    return 1  # a cache that keeps nothing (DummyCache) cannot count


def _count_redis(cache: RedisCache, key: str, timeout: int) -> int:
    """`_count` in one round trip: add + incr cost three (SET NX, then Django's incr checks
    EXISTS before INCRBY), and every message send pays for its count. INCR creates the key at 1;
    EXPIRE NX (Redis >= 7) gives it its window's life once; MULTI makes the pair atomic, so a
    key never lives without its TTL. The value stays an integer the cache API reads back."""
    full = cache.make_and_validate_key(key)
    # Django's RedisCache keeps its client factory private; it is the client the cache API uses.
    client = cache._cache.get_client(full, write=True)
    with client.pipeline(transaction=True) as pipe:
        pipe.incr(full)
        pipe.expire(full, timeout, nx=True)
        count, _ = pipe.execute()
    return int(count)


def _check_scope(scope: str) -> str:
    if not _SCOPE.match(scope):
        raise ValueError(f"Scope must match {_SCOPE.pattern}, not {scope!r}")
    return scope


class RateLimit(BaseThrottle):
    """At most N requests per second, minute, hour or day per client, shared by every process;
    or per several of them: "20/10s" is 20 per 10-second window.

    `key` says who "a client" is: "ip", "user" (the authenticated principal, else the IP) or a
    function of the request returning an identifier, or None to leave the request unthrottled.
    RateLimits with the same scope and period share one budget (e.g. across several routes).
    """

    def __init__(
        self,
        rate: str,
        *,
        scope: str,
        key: Literal["ip", "user"] | KeyFunc = "ip",
        clock: Clock = time.time,
        cache_alias: str = "default",
    ) -> None:
        match = _RATE.match(rate)
        if match is None:
            raise ValueError(
                f'Rate must look like "5/m" or "20/10s" (per s, m, h or d), not {rate!r}'
            )
        if not callable(key) and key not in ("ip", "user"):
            raise ValueError(f'Key must be "ip", "user" or a callable, not {key!r}')
        self.rate = rate
        self.limit = int(match["count"])
        self.period = int(match["size"] or 1) * _PERIODS[match["unit"]]
        self.scope = _check_scope(scope)
        self.key = key
        self.clock = clock
        self.cache_alias = cache_alias

    def identify(self, request: HttpRequest) -> str | None:
        """Who this request counts against, or None when it is not throttled."""
        if callable(self.key):
            return self.key(request)
        if self.key == "user":
            auth_user_id = getattr(getattr(request, "auth", None), "user_id", None)
            if auth_user_id is not None:
                return f"user:{auth_user_id}"
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                return f"user:{user.pk}"
        return f"ip:{client_ip(request)}"

    def hit(self, ident: str) -> float | None:
        """Counts one request for `ident`: None if allowed, else the seconds until it may retry.

        Usable outside ninja too (a WebSocket consumer, a Celery task).
        """
        now = self.clock()
        window = int(now // self.period)
        key = _cache_key("rate", self.scope, f"{self.period}s", str(window), ident)
        count = _count(caches[self.cache_alias], key, timeout=self.period + _GRACE_SECONDS)
        if count <= self.limit:
            return None
        return max((window + 1) * self.period - now, 0.001)

    def refund(self, ident: str) -> None:
        """Gives back one `hit` of `ident` in the current window: the caller counted first and
        learnt after that the request was a free one (a retry of something already done).
        Counting first spares every counted request a look-up; only the free ones pay this."""
        window = int(self.clock() // self.period)
        key = _cache_key("rate", self.scope, f"{self.period}s", str(window), ident)
        try:
            caches[self.cache_alias].decr(key)
        except ValueError:  # the window has just turned: its count starts afresh anyway
            return

    def allow_request(self, request: HttpRequest) -> bool:
        ident = self.identify(request)
        wait = None if ident is None else self.hit(ident)
        _denied_wait.set(None if wait is None else (id(self), wait))
        if wait is not None:
            metrics.throttled.labels(self.scope).inc()
        return wait is None

    def wait(self) -> float | None:
        """Seconds until the window of the request this thread or task just denied ends."""
        denied = _denied_wait.get()
        if denied is None or denied[0] != id(self):
            return None
        return denied[1]

    def __repr__(self) -> str:
        return f"RateLimit({self.rate!r}, scope={self.scope!r}, key={self.key!r})"


class Backoff:
    """Growing lock-outs after repeated failures (logins, password resets), per key.

        backoff.check(f"email:{email}", f"ip:{client_ip(request)}")  # raises Throttled
        ... backoff.failure(...) on a wrong password, backoff.success(...) on a right one

    Each key gets `free_failures` failures, then is locked for base * 2^(n - free - 1) seconds
    (capped at `max_seconds`) after its n-th. Failures are forgotten `forget_after_seconds`
    after the last one, and by `success`. Key by the identifier the client submitted (normalised,
    e.g. a lower-cased e-mail) whether or not the account exists, so lock-outs reveal nothing;
    and consider clearing only the account key on success, so one attacker's own good login
    does not reset their IP's count. Pair with a RateLimit: parallel attempts all pass `check`
    before any of them fails.
    """

    def __init__(
        self,
        *,
        scope: str,
        free_failures: int = 5,
        base_seconds: float = 1,
        max_seconds: float = 900,
        forget_after_seconds: int = 86400,
        clock: Clock = time.time,
        cache_alias: str = "default",
    ) -> None:
        if free_failures < 0 or base_seconds <= 0 or max_seconds < base_seconds:
            raise ValueError("Need free_failures >= 0 and 0 < base_seconds <= max_seconds")
        if forget_after_seconds < max_seconds:
            raise ValueError("forget_after_seconds must outlast the longest lock-out")
        self.scope = _check_scope(scope)
        self.free_failures = free_failures
        self.base_seconds = base_seconds
        self.max_seconds = max_seconds
        self.forget_after_seconds = forget_after_seconds
        self.clock = clock
        self.cache_alias = cache_alias

    def _keys(self, ident: str) -> tuple[str, str]:
        return (
            _cache_key("backoff", self.scope, "failures", ident),
            _cache_key("backoff", self.scope, "locked-until", ident),
        )

    def lockout_seconds(self, failures: int) -> float:
        """How long the `failures`-th consecutive failure locks its key (0 while still free)."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        # The cap on the exponent keeps 2**n a float long after max_seconds is reached.
        return float(min(self.max_seconds, self.base_seconds * 2 ** min(over - 1, 64)))

    def remaining(self, *idents: str) -> float:
        """Seconds until every key given is unlocked (0 if none is locked)."""
        lock_keys = [self._keys(ident)[1] for ident in idents]
        until: dict[str, Any] = caches[self.cache_alias].get_many(lock_keys)
        now = self.clock()
        return max([0.0, *(float(value) - now for value in until.values())])

    def check(self, *idents: str) -> None:
        """Raises `Throttled(details={"retry_after": seconds})` if any key is locked out."""
        remaining = self.remaining(*idents)
        if remaining > 0:
            metrics.throttled.labels(f"backoff:{self.scope}").inc()
            retry_after = max(1, math.ceil(remaining))
            raise Throttled(
                f"Too many failed attempts; try again in {retry_after} seconds.",
                details={"retry_after": retry_after},
            )

    def failure(self, *idents: str) -> float:
        """Counts a failure per key; returns the longest lock-out it started (0 if none)."""
        cache = caches[self.cache_alias]
        longest = 0.0
        for ident in idents:
            failures_key, lock_key = self._keys(ident)
            failures = _count(cache, failures_key, timeout=self.forget_after_seconds)
            cache.touch(failures_key, self.forget_after_seconds)
            seconds = self.lockout_seconds(failures)
            if seconds > 0:
                # Two failures racing may leave the shorter of two successive lock-outs; the
                # count itself stays exact, so the next failure restores the growth.
                cache.set(lock_key, self.clock() + seconds, timeout=math.ceil(seconds) + 1)
                longest = max(longest, seconds)
        return longest

    def success(self, *idents: str) -> None:
        """Forgets the failures and lock-outs of these keys."""
        caches[self.cache_alias].delete_many([key for i in idents for key in self._keys(i)])
