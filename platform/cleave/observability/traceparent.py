"""The app's W3C `traceparent`, honoured even when no trace exporter is configured.

With tracing off (cleave.observability.tracing) there is no span to carry the app's trace id,
yet a support team following one request needs it: the request's log lines, the events it
publishes and the contract calls it makes must all name it. So the incoming header is kept
here for the request's duration, and the trace helpers fall back to it when no span records.
It is free of OpenTelemetry and costs one regex match per request that sends the header.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

HEADER = "traceparent"
META_KEY = "HTTP_TRACEPARENT"
# version-trace_id-parent_id-flags; version ff is invalid, as are all-zero ids (W3C §3.2).
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16

incoming: ContextVar[str | None] = ContextVar("cleave_incoming_traceparent", default=None)


def valid(raw: str | None) -> str | None:
    """`raw` if it is a well-formed traceparent (lower-cased, trimmed), else None."""
    if not raw:
        return None
    value = raw.strip().lower()
    match = _TRACEPARENT.match(value)
    if (
        match is None
        or match.group(1) == "ff"
        or match.group(2) == _ZERO_TRACE
        or match.group(3) == _ZERO_SPAN
    ):
        return None
    return value


def trace_id() -> str | None:
    """The incoming trace id in hex, if this request (or delivery) carries one."""
    value = incoming.get()
    return value[3:35] if value else None


def headers() -> dict[str, str]:
    """The incoming trace context as W3C headers ({} when there is none)."""
    value = incoming.get()
    return {HEADER: value} if value else {}


@contextmanager
def carrying(raw: str | None) -> Iterator[None]:
    """Run with `raw` (a request's or an outbox row's traceparent) as the incoming context;
    an invalid or missing one leaves no context, never a forged log field."""
    token = incoming.set(valid(raw))
    try:
        yield
    finally:
        incoming.reset(token)


def from_headers(carrier: Mapping[str, Any] | None) -> str | None:
    """The traceparent stored in `carrier` (an outbox row's headers), if any."""
    if not carrier:
        return None
    value = carrier.get(HEADER)
    return str(value) if value else None
