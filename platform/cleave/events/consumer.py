"""Apply events to a context's subscribers: once in effect, in order per aggregate.

Each (event, subscriber) runs in a savepoint together with its inbox row, so a redelivered event
finds the row and has no second effect. A failure parks the delivery for retry with exponential
backoff and jitter, and later events of the same aggregate for that subscriber are held behind
it; after `CLEAVE_EVENTS_MAX_ATTEMPTS`, or at once for a `PermanentError`, it becomes a dead
letter and the held events flow again.

Events carry their number in their (event type, aggregate) stream (`cleave.events.sequencing`):
one that arrives ahead of the subscriber's high-water mark is held until the events before it are
applied, so neither a dead worker's redelivered batch nor a batch retried after a database error
lands behind later events of its aggregates.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from django.db import IntegrityError, transaction
from opentelemetry.trace import SpanKind

from cleave.databases import database_for
from cleave.events import parking
from cleave.events.models import FailedDelivery, InboxEntry
from cleave.events.sequencing import Positions, Stream, seq_of
from cleave.events.subscribers import Subscriber, subscribers
from cleave.gateway.request_id import current_request_id
from cleave.observability import metrics, traceparent
from cleave.observability.tracing import extracted, span_from

logger = logging.getLogger(__name__)

# Held rows released per transaction: a long gap's backlog is applied in bounded steps.
BATCH_LIMIT = 500


def consume(context: str, items: list[dict[str, Any]]) -> None:
    """Apply a batch of `{"envelope", "headers", "seq"}` items to `context`'s subscribers."""
    alias = database_for(context)
    with transaction.atomic(using=alias):
        work = [
            (subscriber, item)
            for item in items
            for subscriber in subscribers.for_type(item["envelope"]["event_type"])
            if subscriber.context == context
        ]
        # Lock the marks first: a concurrent consumer of the same aggregates (a redelivered copy
        # of a batch still running) waits here, then finds this one's inbox rows.
        positions = Positions.lock(
            alias, {_stream(s, item) for s, item in work if seq_of(item) is not None}
        )
        work = _not_owned(alias, _not_yet_applied(alias, work))
        verdict = positions.sort(work, _stream)
        for subscriber, item in verdict.late:
            parking.park_late(alias, subscriber, item)
        parking.hold(alias, verdict.held)
        run(alias, verdict.runnable, positions)
        positions.save()
    # The batch's own effects are committed; what it unblocked follows in transactions of its
    # own, so a long backlog of held events never delays this batch's commit.
    release_streams(alias, {_stream(s, item) for s, item in verdict.runnable})


def run(
    alias: str, runnable: list[tuple[Subscriber, dict[str, Any]]], positions: Positions
) -> None:
    """Apply `runnable` (in stream order) and move the marks past what was applied or given up;
    a stream whose delivery fails holds the rest of its deliveries behind it."""
    if not runnable:
        return
    unsequenced = [(s, item) for s, item in runnable if seq_of(item) is None]
    blocked = _blocked_streams(alias, unsequenced)
    if not blocked and len(runnable) > 1 and _apply_all(alias, runnable):
        for subscriber, item in runnable:
            _advance(positions, subscriber, item)
        return
    # One savepoint per delivery, so one failure does not undo the others.
    for subscriber, item in runnable:
        if _stream(subscriber, item) in blocked:
            parking.park(alias, subscriber, item, status=FailedDelivery.Status.HELD)
            continue
        with request_id_of(item):  # so the failure's log line names the request too
            error = deliver(alias, subscriber, item)
            status = (
                parking.park_failure(alias, subscriber, item, error) if error is not None else None
            )
        if status == FailedDelivery.Status.RETRYING:
            blocked.add(_stream(subscriber, item))
            seq = seq_of(item)
            if seq is not None:  # a stream's first event failing still sets where it starts
                positions.advance(_stream(subscriber, item), seq - 1)
        else:  # applied, or a dead letter: the stream moves on
            _advance(positions, subscriber, item)


def release_held(alias: str, positions: Positions, streams: set[Stream]) -> None:
    """Apply the held deliveries of `streams` that the marks now reach, in order, inside the
    caller's transaction (which holds `positions`' locks); bounded."""
    for _round in range(20):
        rows = _releasable(alias, positions, streams)
        if not rows:
            return
        FailedDelivery.objects.using(alias).filter(id__in=[row.pk for row in rows]).delete()
        work = [
            (subscriber, held_item(row))
            for row in rows
            if (subscriber := _hosted(row.subscriber)) is not None
        ]
        run(alias, work, positions)


def release_streams(alias: str, streams: set[Stream]) -> None:
    """Release what the marks of `streams` now reach, a transaction per chunk of held events."""
    streams = {stream for stream in streams if _hosted(stream[0]) is not None}
    for _round in range(1000):
        if not streams:
            return
        with transaction.atomic(using=alias):
            positions = Positions.lock(alias, streams)
            rows = _releasable(alias, positions, streams)
            if not rows:
                return
            FailedDelivery.objects.using(alias).filter(id__in=[row.pk for row in rows]).delete()
            work = [(subscribers.get(row.subscriber), held_item(row)) for row in rows]
            run(alias, work, positions)
            positions.save()


def _releasable(alias: str, positions: Positions, streams: set[Stream]) -> list[FailedDelivery]:
    """The held rows of `streams` that directly follow their mark, stream by stream."""
    if not streams:
        return []
    held = FailedDelivery.objects.using(alias).filter(
        status=FailedDelivery.Status.HELD,
        aggregate_seq__isnull=False,
        subscriber__in={name for name, _ in streams},
        aggregate_id__in={aggregate for _, aggregate in streams},
    )
    blocked = _retrying_streams(alias, streams)
    ready: list[FailedDelivery] = []
    next_seq: dict[Stream, int] = {}
    for row in held.order_by("aggregate_seq", "id")[:BATCH_LIMIT]:
        stream = (row.subscriber, row.aggregate_id)
        if stream not in streams or stream in blocked:
            continue
        if stream not in next_seq:
            applied = positions.applied(stream)
            next_seq[stream] = (applied or 0) + 1
        if row.aggregate_seq == next_seq[stream]:
            ready.append(row)
            next_seq[stream] += 1
        else:
            next_seq[stream] = -1  # a gap: the rest of this stream waits
    return ready


def held_item(row: FailedDelivery) -> dict[str, Any]:
    """A failed-delivery row as the batch item it was parked from."""
    return {"envelope": row.envelope, "headers": row.headers, "seq": row.aggregate_seq}


def _retrying_streams(alias: str, streams: set[Stream]) -> set[Stream]:
    rows = FailedDelivery.objects.using(alias).filter(
        status=FailedDelivery.Status.RETRYING,
        subscriber__in={name for name, _ in streams},
        aggregate_id__in={aggregate for _, aggregate in streams},
    )
    return set(rows.values_list("subscriber", "aggregate_id")) & streams


def _hosted(name: str) -> Subscriber | None:
    try:
        return subscribers.get(name)
    except KeyError:
        return None  # not hosted in this process: its own service releases it


def _advance(positions: Positions, subscriber: Subscriber, item: dict[str, Any]) -> None:
    seq = seq_of(item)
    if seq is not None:
        positions.advance(_stream(subscriber, item), seq)


def _not_owned(
    alias: str, work: list[tuple[Subscriber, dict[str, Any]]]
) -> list[tuple[Subscriber, dict[str, Any]]]:
    """Drop deliveries that already have a failed-delivery row: retrying, held, dead or parked,
    they are the retry machinery's (a redelivered copy must not overtake it)."""
    if not work:
        return work
    owned = set(
        FailedDelivery.objects.using(alias)
        .filter(
            subscriber__in={subscriber.name for subscriber, _ in work},
            event_id__in={item["envelope"]["event_id"] for _, item in work},
        )
        .values_list("subscriber", "event_id")
    )
    return [
        (subscriber, item)
        for subscriber, item in work
        if (subscriber.name, UUID(item["envelope"]["event_id"])) not in owned
    ]


def _apply_all(alias: str, work: list[tuple[Subscriber, dict[str, Any]]]) -> bool:
    """The fast path: the whole batch in one savepoint with one bulk inbox insert.

    Failures are rare, so a batch usually costs one savepoint instead of one per event; if
    anything fails, it is all rolled back and the caller applies the batch event by event.
    """
    by_subscriber: dict[str, tuple[Subscriber, list[dict[str, Any]]]] = {}
    for subscriber, item in work:
        by_subscriber.setdefault(subscriber.name, (subscriber, []))[1].append(item)
    try:
        with transaction.atomic(using=alias):
            InboxEntry.objects.using(alias).bulk_create(
                [_inbox_row(subscriber, item["envelope"]) for subscriber, item in work]
            )
            for subscriber, batch in by_subscriber.values():
                with request_id_of(batch[0]), delivery_span(subscriber, batch):
                    subscriber.apply([subscriber.decode(item["envelope"]) for item in batch])
    except Exception:
        return False
    for subscriber, batch in by_subscriber.values():
        _count_delivered(subscriber, batch)
    return True


def deliver(alias: str, subscriber: Subscriber, item: dict[str, Any]) -> Exception | None:
    """Run one delivery in a savepoint: None if applied now or before, else why it failed.

    The failure is returned, never written into `item`: the batch's items are the Celery task's
    arguments, which a retry sends again as they are. An exception stored in one made that retry
    unserializable, so a batch that failed while the database restarted was dropped.
    """
    envelope = item["envelope"]
    try:
        with (
            request_id_of(item),
            delivery_span(subscriber, [item]),
            transaction.atomic(using=alias),
        ):
            InboxEntry.objects.using(alias).create(
                event_id=envelope["event_id"],
                subscriber=subscriber.name,
                event_type=envelope["event_type"],
            )
            subscriber.apply([subscriber.decode(envelope)])
    except Exception as exc:  # the subscriber's failure is recorded, never propagated
        if isinstance(exc, IntegrityError) and _applied(alias, subscriber, envelope):
            return None  # a concurrent redelivery got there first
        return exc
    _count_delivered(subscriber, [item])
    return None


@contextmanager
def delivery_span(subscriber: Subscriber, items: list[dict[str, Any]]) -> Iterator[None]:
    """A consumer span in the publisher's trace (parent: the publish span, carried in the
    row's headers) and linked to every event's publisher; timed for the delivery histogram."""
    contexts = [c for c in (extracted(item.get("headers")) for item in items) if c is not None]
    first = items[0]["envelope"]
    started = time.perf_counter()
    with span_from(
        f"deliver {first['event_type']} to {subscriber.name}",
        contexts[0] if contexts else None,
        links=contexts[1:],
        kind=SpanKind.CONSUMER,
        attributes={
            "cleave.event.type": first["event_type"],
            "cleave.event.id": first["event_id"],
            "cleave.event.count": len(items),
            "cleave.subscriber": subscriber.name,
        },
    ):
        yield
    metrics.event_delivery_duration.labels(subscriber.context, subscriber.name).observe(
        time.perf_counter() - started
    )


def _count_delivered(subscriber: Subscriber, items: list[dict[str, Any]]) -> None:
    for item in items:
        metrics.events_delivered.labels(
            subscriber.context, subscriber.name, item["envelope"]["event_type"]
        ).inc()


def _stream(subscriber: Subscriber, item: dict[str, Any]) -> Stream:
    return (subscriber.name, item["envelope"]["aggregate_id"])


def _inbox_row(subscriber: Subscriber, envelope: dict[str, Any]) -> InboxEntry:
    return InboxEntry(
        event_id=envelope["event_id"], subscriber=subscriber.name, event_type=envelope["event_type"]
    )


def _applied(alias: str, subscriber: Subscriber, envelope: dict[str, Any]) -> bool:
    entries = InboxEntry.objects.using(alias)
    return entries.filter(subscriber=subscriber.name, event_id=envelope["event_id"]).exists()


def _not_yet_applied(
    alias: str, work: list[tuple[Subscriber, dict[str, Any]]]
) -> list[tuple[Subscriber, dict[str, Any]]]:
    """Drop deliveries the inbox already holds (redeliveries), with one query."""
    if not work:
        return work
    done = set(
        InboxEntry.objects.using(alias)
        .filter(
            subscriber__in={subscriber.name for subscriber, _ in work},
            event_id__in={item["envelope"]["event_id"] for _, item in work},
        )
        .values_list("subscriber", "event_id")
    )
    fresh = [
        (subscriber, item)
        for subscriber, item in work
        if (subscriber.name, UUID(item["envelope"]["event_id"])) not in done
    ]
    if len(fresh) < len(work):
        kept = {(subscriber.name, id(item)) for subscriber, item in fresh}
        for subscriber, item in work:
            if (subscriber.name, id(item)) not in kept:
                metrics.inbox_duplicates.labels(subscriber.context, subscriber.name).inc()
    return fresh


def _blocked_streams(alias: str, work: list[tuple[Subscriber, dict[str, Any]]]) -> set[Stream]:
    names = {subscriber.name for subscriber, _ in work}
    aggregates = {item["envelope"]["aggregate_id"] for _, item in work}
    rows = FailedDelivery.objects.using(alias).filter(
        subscriber__in=names,
        aggregate_id__in=aggregates,
        status__in=[FailedDelivery.Status.RETRYING, FailedDelivery.Status.HELD],
    )
    return set(rows.values_list("subscriber", "aggregate_id"))


@contextmanager
def request_id_of(item: dict[str, Any]) -> Iterator[None]:
    """Run with the publishing request's id and trace, so every log line links back to it."""
    headers = item.get("headers", {})
    token = current_request_id.set(str(headers.get("request_id") or "-"))
    try:
        # …and with its trace id, even when no trace exporter is configured.
        with traceparent.carrying(traceparent.from_headers(headers)):
            yield
    finally:
        current_request_id.reset(token)
