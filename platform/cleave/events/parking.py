"""Where a delivery goes when it cannot be applied now: held behind an earlier event of its
aggregate, retrying with backoff after a failure, dead after the last attempt (or a
`PermanentError`), or parked when it arrived after its successors were applied. Rows of
`FailedDelivery`; cleave.events.consumer decides, cleave.events.retries picks them up again.
"""

from __future__ import annotations

import logging
import random
import traceback
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from cleave.events.models import FailedDelivery
from cleave.events.sequencing import seq_of
from cleave.events.subscribers import PermanentError, Subscriber
from cleave.observability import metrics

logger = logging.getLogger(__name__)


def hold(alias: str, work: list[tuple[Subscriber, dict[str, Any]]]) -> None:
    """Hold deliveries behind an earlier event of their aggregate: one insert for them all."""
    now = timezone.now()
    FailedDelivery.objects.using(alias).bulk_create(
        [
            FailedDelivery(
                subscriber=subscriber.name,
                event_id=item["envelope"]["event_id"],
                event_type=item["envelope"]["event_type"],
                aggregate_id=item["envelope"]["aggregate_id"],
                aggregate_seq=seq_of(item),
                envelope=item["envelope"],
                headers=item.get("headers", {}),
                status=FailedDelivery.Status.HELD,
                created_at=now,
                updated_at=now,
            )
            for subscriber, item in work
        ],
        ignore_conflicts=True,  # one already parked (a concurrent copy of the batch) stays
    )


def park_late(alias: str, subscriber: Subscriber, item: dict[str, Any]) -> None:
    """An event whose successors were applied (its hold timed out): parked for an operator,
    never applied out of order behind their backs."""
    row = park(alias, subscriber, item, status=FailedDelivery.Status.PARKED)
    row.last_error = "arrived after later events of its aggregate were applied"
    row.save(using=alias, update_fields=["last_error"])
    metrics.events_arrived_late.labels(subscriber.context, subscriber.name, row.event_type).inc()
    logger.error(
        "parked: %s on %s %s (seq %s) arrived after its successors were applied",
        subscriber.name, row.event_type, row.event_id, seq_of(item),
    )  # fmt: skip


def park(
    alias: str, subscriber: Subscriber, item: dict[str, Any], *, status: str
) -> FailedDelivery:
    """The delivery's failed-delivery row, created with `status` if it has none yet."""
    envelope = item["envelope"]
    row, _ = FailedDelivery.objects.using(alias).get_or_create(
        subscriber=subscriber.name,
        event_id=envelope["event_id"],
        defaults={
            "event_type": envelope["event_type"],
            "aggregate_id": envelope["aggregate_id"],
            "aggregate_seq": seq_of(item),
            "envelope": envelope,
            "headers": item.get("headers", {}),
            "status": status,
        },
    )
    return row


def park_failure(
    alias: str, subscriber: Subscriber, item: dict[str, Any], error: BaseException
) -> str:
    row = park(alias, subscriber, item, status=FailedDelivery.Status.RETRYING)
    return record_failure(alias, row, error)


def record_failure(alias: str, row: FailedDelivery, error: BaseException) -> str:
    """Count a failed attempt: schedule a retry, or make it a dead letter. Returns the status."""
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    row.traceback = "".join(traceback.format_exception(error))[-10000:]
    row.updated_at = timezone.now()
    permanent = isinstance(error, PermanentError)
    labels = (context_of_subscriber(row.subscriber), row.subscriber, row.event_type)
    if permanent or row.attempts >= settings.CLEAVE_EVENTS_MAX_ATTEMPTS:
        metrics.events_dead_lettered.labels(*labels).inc()
        row.status = FailedDelivery.Status.DEAD
        row.next_attempt_at = None
        logger.error(
            "dead letter: %s on %s %s after %d attempt(s): %s",
            row.subscriber, row.event_type, row.event_id, row.attempts, row.last_error,
        )  # fmt: skip
    else:
        metrics.events_retried.labels(*labels).inc()
        row.status = FailedDelivery.Status.RETRYING
        row.next_attempt_at = timezone.now() + backoff(row.attempts)
        logger.warning(
            "delivery failed, retry %d scheduled: %s on %s %s: %s",
            row.attempts, row.subscriber, row.event_type, row.event_id, row.last_error,
        )  # fmt: skip
    row.save(
        using=alias,
        update_fields=[
            "attempts",
            "last_error",
            "traceback",
            "updated_at",
            "status",
            "next_attempt_at",
        ],
    )
    return row.status


def context_of_subscriber(name: str) -> str:
    return name.split(".", 1)[0]  # subscriber names are "<context>.<function>"


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped."""
    base: float = settings.CLEAVE_EVENTS_RETRY_BASE_SECONDS
    ceiling = min(settings.CLEAVE_EVENTS_RETRY_MAX_SECONDS, base * 2 ** (attempts - 1))
    return timedelta(seconds=base / 2 + random.uniform(0, ceiling))  # noqa: S311 - jitter, not crypto
