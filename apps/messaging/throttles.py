"""messaging's limits: how many messages one user may send, whichever way they arrive."""

from __future__ import annotations

import functools
import math

from django.conf import settings

from cleave.errors import Throttled
from cleave.gateway.throttling import RateLimit
from cleave.observability import metrics

SCOPE = "message-send"


@functools.cache
def _limit(rate: str) -> RateLimit:
    return RateLimit(rate, scope=SCOPE)


def send_limit() -> RateLimit:
    """The limit `CLEAVE_MESSAGING_SEND_RATE` names (read per call, so tests may override it);
    a malformed rate is a ValueError, raised at start-up by the app's ready()."""
    # Messaging's own setting (apps/messaging/context.py), which the stubs' settings module lacks.
    return _limit(settings.CLEAVE_MESSAGING_SEND_RATE)  # type: ignore[misc]


def send_count(*, sender_id: int) -> None:
    """Count one send against the sender's budget, shared by REST and the socket; over it,
    `Throttled` (429 `rate_limited` with Retry-After, or an error frame on the socket)."""
    wait = send_limit().hit(_budget_of(sender_id))
    if wait is None:
        return
    metrics.throttled.labels(SCOPE).inc()
    retry_after = max(1, math.ceil(wait))
    raise Throttled(
        f"Too many messages; try again in {retry_after} seconds.",
        details={"retry_after": retry_after},
    )


def send_uncount(*, sender_id: int) -> None:
    """Give back a send counted before it turned out to be a retry: retries are free."""
    send_limit().refund(_budget_of(sender_id))


def _budget_of(sender_id: int) -> str:
    """The sender's identity in the limit: the one `RateLimit(key="user")` gives a request."""
    return f"user:{sender_id}"
