"""Retry due deliveries, release held ones in order, give up overdue holds, replay dead letters."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Min, OuterRef
from django.utils import timezone

from cleave.events.consumer import (
    deliver,
    held_item,
    release_held,
    release_streams,
    request_id_of,
)
from cleave.events.models import FailedDelivery, InboxPosition
from cleave.events.parking import context_of_subscriber, record_failure
from cleave.events.sequencing import Positions
from cleave.events.subscribers import subscribers
from cleave.observability import metrics

logger = logging.getLogger(__name__)

Status = FailedDelivery.Status


def retry_due(alias: str, *, limit: int = 200) -> int:
    """Retry every delivery whose backoff has passed; return how many were attempted."""
    with transaction.atomic(using=alias):
        due = list(
            FailedDelivery.objects.using(alias)
            .select_for_update(skip_locked=True)
            .filter(status=Status.RETRYING, next_attempt_at__lte=timezone.now())
            .order_by("id")[:limit]
        )
        for row in due:
            stream = (row.subscriber, row.aggregate_id)
            seq = row.aggregate_seq
            positions = Positions.lock(alias, [stream] if seq is not None else [])
            if not _attempt(alias, row):
                continue
            if seq is None:
                _release_unsequenced(alias, row.subscriber, row.aggregate_id)
                continue
            positions.advance(stream, seq)
            release_held(alias, positions, {stream})
            positions.save()
    return len(due)


def _attempt(alias: str, row: FailedDelivery) -> bool:
    """Deliver `row` again. True when the stream may move on (delivered, or now dead)."""
    try:
        subscriber = subscribers.get(row.subscriber)
    except KeyError:
        return False  # not hosted in this process: its own service retries it
    item = held_item(row)
    with request_id_of(item):
        error = deliver(alias, subscriber, item)
        if error is None:
            row.delete(using=alias)
            return True
        return record_failure(alias, row, error) == Status.DEAD


def _release_unsequenced(alias: str, subscriber_name: str, aggregate_id: str) -> None:
    """Rows held before events carried sequence numbers: in the order they were held."""
    held = FailedDelivery.objects.using(alias).filter(
        subscriber=subscriber_name,
        aggregate_id=aggregate_id,
        status=Status.HELD,
        aggregate_seq__isnull=True,
    )
    for row in held.order_by("id"):
        if not _attempt(alias, row):
            return  # this one now heads the stream (retrying); the rest stay held behind it


def release_ready(alias: str, *, limit: int = 100) -> int:
    """Release held events whose predecessor is applied but whose release was cut short (the
    worker died between the two transactions); how many streams were released."""
    reached = InboxPosition.objects.using(alias).filter(
        subscriber=OuterRef("subscriber"),
        aggregate_id=OuterRef("aggregate_id"),
        applied_seq=OuterRef("aggregate_seq") - 1,
    )
    streams = set(
        FailedDelivery.objects.using(alias)
        .filter(status=Status.HELD, aggregate_seq__isnull=False)
        .filter(Exists(reached))
        .values_list("subscriber", "aggregate_id")[:limit]
    )
    release_streams(alias, streams)
    return len(streams)


def release_overdue(alias: str, *, limit: int = 100) -> int:
    """Give up on gaps held longer than `CLEAVE_EVENTS_HOLD_TIMEOUT_SECONDS`: the stream moves
    on to its first held event (counted, logged, alerted); a missing event that turns up later
    is parked. Streams held behind a retrying delivery wait for it instead (it dead-letters in
    its own time). Returns how many streams moved on."""
    cutoff = timezone.now() - timedelta(seconds=settings.CLEAVE_EVENTS_HOLD_TIMEOUT_SECONDS)
    rows = FailedDelivery.objects.using(alias)
    with transaction.atomic(using=alias):
        overdue = (
            rows.filter(status=Status.HELD, aggregate_seq__isnull=False)
            .values("subscriber", "aggregate_id")
            .annotate(first_held=Min("created_at"), first_seq=Min("aggregate_seq"))
            .filter(first_held__lt=cutoff)
            .order_by("first_held")[:limit]
        )
        retrying = set(
            rows.filter(status=Status.RETRYING).values_list("subscriber", "aggregate_id")
        )
        candidates = [
            ((row["subscriber"], row["aggregate_id"]), int(row["first_seq"]))
            for row in overdue
            if (row["subscriber"], row["aggregate_id"]) not in retrying
        ]
        positions = Positions.lock(alias, [stream for stream, _ in candidates])
        streams = [
            (stream, first_seq)
            for stream, first_seq in candidates
            if first_seq > (positions.applied(stream) or 0) + 1  # a gap, not just unreleased
        ]
        if not streams:
            return 0
        for stream, first_seq in streams:
            applied = positions.applied(stream)
            logger.error(
                "hold timed out: %s on aggregate %s skips seq %s..%s (never arrived in %ss)",
                stream[0], stream[1], (applied or 0) + 1, first_seq - 1,
                settings.CLEAVE_EVENTS_HOLD_TIMEOUT_SECONDS,
            )  # fmt: skip
            metrics.events_hold_timeouts.labels(context_of_subscriber(stream[0]), stream[0]).inc()
            positions.advance(stream, first_seq - 1)
        release_held(alias, positions, {stream for stream, _ in streams})
        positions.save()
    return len(streams)


def replay(alias: str, ids: Iterable[int]) -> int:
    """Send dead letters and parked deliveries back for delivery (now); how many were re-queued.

    A replayed parked event is applied after its successors: the operator's call."""
    with transaction.atomic(using=alias):
        count = (
            FailedDelivery.objects.using(alias)
            .filter(id__in=list(ids), status__in=[Status.DEAD, Status.PARKED])
            .update(status=Status.RETRYING, attempts=0, next_attempt_at=timezone.now())
        )
    logger.info("replaying %d dead letter(s) or parked deliveries", count)
    return count
