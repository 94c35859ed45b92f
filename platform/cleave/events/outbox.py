"""`publish(event)`: write the event to the outbox inside the caller's transaction.

If the transaction rolls back, nothing is published; once it commits, the event is handed off
right away (on commit) and, should that hand-off be lost, by the periodic sweeper: delivered at
least once even if the process dies right after the commit.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.db import connections
from opentelemetry.trace import SpanKind

from cleave.contracts.base import Event
from cleave.databases import database_for
from cleave.errors import CleaveError
from cleave.events.models import OutboxEvent
from cleave.events.sequencing import assign_sequences, write_numbered
from cleave.gateway.request_id import current_request_id
from cleave.observability import metrics
from cleave.observability.tracing import MAX_LINKS, inject, tracer

logger = logging.getLogger(__name__)

# Stacks of lists that `captured_events()` appends to; empty outside tests.
_captures: list[list[Event]] = []


class PublishOutsideTransaction(CleaveError):
    code = "publish_outside_transaction"
    status = 500
    message_template = (
        "publish({event_type}) needs an open transaction on database '{alias}': wrap the "
        "service in transaction.atomic(using='{alias}') so the event commits with its effects."
    )


def context_of_event(event_type: str) -> str:
    return event_type.split(".", 1)[0]


def publish(event: Event) -> None:
    """Record `event` in its context's outbox, in the current transaction (which must exist)."""
    publish_many([event])


def publish_many(events: Sequence[Event]) -> None:
    """Record several events at once (one INSERT), in the current transaction."""
    if not events:
        return
    with tracer.start_as_current_span(
        f"publish {events[0].event_type}" + (f" +{len(events) - 1}" if len(events) > 1 else ""),
        kind=SpanKind.PRODUCER,
        attributes={
            "cleave.event.types": sorted({event.event_type for event in events}),
            "cleave.event.ids": [str(event.event_id) for event in events[:MAX_LINKS]],
        },
    ):
        # The consumer's span continues from here (traceparent rides in the row's headers).
        _write(events, {"request_id": current_request_id.get(), **inject()})
    for capture in _captures:
        capture.extend(_round_trip(event) for event in events)


def _write(events: Sequence[Event], headers: dict[str, str]) -> None:
    by_alias: dict[str, list[Event]] = {}
    for event in events:
        alias = database_for(context_of_event(event.event_type))
        if not connections[alias].in_atomic_block:
            raise PublishOutsideTransaction(
                details={"event_type": event.event_type, "alias": alias}
            )
        by_alias.setdefault(alias, []).append(event)
    for alias, chosen in by_alias.items():
        if connections[alias].vendor == "postgresql":
            write_numbered(alias, chosen, headers)
        else:
            _write_apart(alias, chosen, headers)
        _relay_on_commit(alias)
    for event in events:
        metrics.events_published.labels(context_of_event(event.event_type), event.event_type).inc()


def _write_apart(alias: str, events: Sequence[Event], headers: dict[str, str]) -> None:
    """Number the events (`assign_sequences`), then insert their rows: two statements, where a
    database has no data-changing CTEs (SQLite, embedded mode: no round trips to save)."""
    keys = [(event.event_type, event.aggregate_id) for event in events]
    numbers = assign_sequences(alias, keys)
    OutboxEvent.objects.using(alias).bulk_create(
        OutboxEvent(
            event_id=event.event_id,
            event_type=event.event_type,
            version=event.version,
            context=context_of_event(event.event_type),
            aggregate_id=event.aggregate_id,
            aggregate_seq=seq,
            envelope=event.envelope(),
            headers=headers,
        )
        for event, seq in zip(events, numbers, strict=True)
    )


class _RelayAfterCommit:
    """One per transaction and alias: hands the outbox off once the transaction commits."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(self) -> None:
        from cleave.events.relay import background_relay, relay_all

        if not settings.CLEAVE_EVENTS_INPROCESS:
            background_relay.kick(self.alias)
            return
        try:
            # Embedded mode delivers right here, after commit, so a request's effects are
            # visible when it returns.
            relay_all(self.alias)
        except Exception:
            # The events are committed in the outbox; the sweeper will hand them off.
            logger.exception("immediate relay failed; the outbox sweeper will retry")


def _relay_on_commit(alias: str) -> None:
    connection = connections[alias]
    # Django drops a callback whose savepoint rolls back, so finding ours in run_on_commit
    # means this transaction already has one.
    for pending in connection.run_on_commit:  # (savepoints, callback, robust)
        if isinstance(pending[1], _RelayAfterCommit):
            return
    connection.on_commit(_RelayAfterCommit(alias))


def _round_trip(event: Event) -> Event:
    wire: dict[str, Any] = json.loads(json.dumps(event.envelope()))
    return type(event).from_envelope(wire)


@contextmanager
def captured_events() -> Iterator[list[Event]]:
    """Collect the events published inside the block, each round-tripped through its JSON
    as a subscriber will see it. (Published, not committed: a rolled-back event shows too.)"""
    captured: list[Event] = []
    _captures.append(captured)
    try:
        yield captured
    finally:
        _captures.remove(captured)
