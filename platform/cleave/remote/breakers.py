"""One circuit breaker per target context: closed → open → half-open → closed.

Why not pybreaker: its `CircuitBreaker.call` holds the breaker's lock for the whole guarded
call (pybreaker 1.4, `with self._lock: return self.state.call(...)`), so every thread of a web
worker calling the same service would queue behind the one call in flight — the breaker would
become the bottleneck it is meant to prevent. The state machine is small; here the lock guards
only the state changes, never the call.

Closed: failures in a row are counted; `fail_max` of them open the breaker. Open: calls fail at
once (`BreakerOpen`) for `reset_seconds`. Half-open: one trial call goes through; its success
closes the breaker, its failure opens it again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings

from cleave.observability import metrics

logger = logging.getLogger(__name__)
T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
_STATE_VALUES = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}  # the cleave_breaker_state gauge


class BreakerOpen(Exception):
    """The target's breaker is open: the call was not attempted."""


class Breaker:
    def __init__(
        self,
        name: str,
        *,
        fail_max: int,
        reset_seconds: float,
        is_failure: Callable[[BaseException], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.fail_max = fail_max
        self.reset_seconds = reset_seconds
        self.opens = 0  # how many times it opened (metrics read it)
        self._is_failure = is_failure
        self._clock = clock
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False
        self._lock = threading.Lock()

    @property
    def state(self) -> str:
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
                return HALF_OPEN
            return self._state

    def call(self, function: Callable[..., T], *args: object) -> T:
        self._before()
        try:
            result = function(*args)
        except BaseException as exc:
            if self._is_failure(exc):
                self._failed()
            else:
                self._succeeded()
            raise
        self._succeeded()
        return result

    def _before(self) -> None:
        with self._lock:
            if self._state == CLOSED:
                return
            if self._state == OPEN and self._clock() - self._opened_at >= self.reset_seconds:
                self._move(HALF_OPEN)
            if self._state == HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            raise BreakerOpen(self.name)

    def _succeeded(self) -> None:
        with self._lock:
            self._failures = 0
            self._trial_in_flight = False
            if self._state != CLOSED:
                self._move(CLOSED)

    def _failed(self) -> None:
        with self._lock:
            self._trial_in_flight = False
            self._failures += 1
            if self._state == HALF_OPEN or (
                self._state == CLOSED and self._failures >= self.fail_max
            ):
                self._opened_at = self._clock()
                self.opens += 1
                self._move(OPEN)

    def _move(self, state: str) -> None:
        metrics.breaker_state.labels(self.name).set(_STATE_VALUES[state])
        if state == OPEN:
            metrics.breaker_opens.labels(self.name).inc()
        log = logger.warning if state == OPEN else logger.info
        log(
            "circuit breaker for %s: %s -> %s",
            self.name,
            self._state,
            state,
            extra={"breaker": self.name, "breaker_state": state},
        )
        self._state = state


_breakers: dict[str, Breaker] = {}
_lock = threading.Lock()


def breaker_for(context: str) -> Breaker:
    breaker = _breakers.get(context)
    if breaker is None:
        with _lock:
            breaker = _breakers.get(context)
            if breaker is None:
                breaker = Breaker(
                    context,
                    fail_max=settings.CLEAVE_BREAKER_FAIL_MAX,
                    reset_seconds=settings.CLEAVE_BREAKER_RESET_SECONDS,
                    is_failure=_is_failure,
                )
                _breakers[context] = breaker
                metrics.breaker_state.labels(context).set(0)
    return breaker


def _is_failure(exc: BaseException) -> bool:
    # Only the target's own failures count; a typed error is an answer from a working target.
    from cleave.remote.transport import RemoteFailure

    return isinstance(exc, RemoteFailure)


def refresh_gauges() -> None:
    """Set each breaker's gauge from its state now (open turns half-open with time alone)."""
    for context, breaker in list(_breakers.items()):
        metrics.breaker_state.labels(context).set(_STATE_VALUES[breaker.state])


def states() -> dict[str, str]:
    """Each known target's breaker state."""
    return {context: breaker.state for context, breaker in sorted(_breakers.items())}


def reset() -> None:
    """Forget every breaker (tests, and after a configuration change)."""
    with _lock:
        _breakers.clear()
