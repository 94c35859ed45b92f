"""Each event's metadata: its id, what caused it, and the request and trace it came from.

The trace id is the current span's when tracing records it, else the app's incoming
`traceparent` (as the outbox carries it, `cleave.observability.tracing.inject`), so an event
can be found from the request that appended it in the logs and traces.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from cleave.gateway.request_id import current_request_id
from cleave.observability import traceparent
from cleave.observability.tracing import current_ids


def current_trace_id() -> str | None:
    ids = current_ids()
    return ids[0] if ids else traceparent.trace_id()


def event_metadata(given: Mapping[str, Any] | None, count: int) -> list[dict[str, Any]]:
    """Metadata for `count` events appended together: one fresh `event_id` each; the caller's
    `causation_id`/`correlation_id` and other keys kept; request and trace ids added (the
    caller's win: a worker replaying a request passes them on)."""
    base: dict[str, Any] = {
        "causation_id": None,
        "correlation_id": None,
        "trace_id": current_trace_id(),
        "request_id": None if current_request_id.get() == "-" else current_request_id.get(),
        **(given or {}),
    }
    ids = [str(uuid.uuid4()) for _ in range(count)]
    # Events appended together without a given chain start one: the first event's id.
    correlation = base["correlation_id"] or base["causation_id"] or (ids[0] if ids else None)
    return [{**base, "correlation_id": correlation, "event_id": event_id} for event_id in ids]
