"""Apply events to a context's subscribers: once in effect, in order per aggregate.

Each (event, subscriber) runs in a savepoint together with its inbox row, so a redelivered event
finds the row and has no second effect. A failure parks the delivery for retry with exponential
backoff and jitter, and later events of the same aggregate for that subscriber are held behind
it; after `CLEAVE_EVENTS_MAX_ATTEMPTS`, or at once for a `PermanentError`, it becomes a dead
letter and the held events flow again.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from cleave.databases import database_for
from cleave.events.models import FailedDelivery, InboxEntry
from cleave.events.subscribers import PermanentError, Subscriber, subscribers
from cleave.gateway.request_id import current_request_id

logger = logging.getLogger(__name__)

Stream = tuple[str, str]  # (subscriber name, aggregate id)


def consume(context: str, items: list[dict[str, Any]]) -> None:
    """Apply a batch of `{"envelope", "headers"}` items to `context`'s subscribers."""
    alias = database_for(context)
    with transaction.atomic(using=alias):
        work = [
            (subscriber, item)
            for item in items
            for subscriber in subscribers.for_type(item["envelope"]["event_type"])
            if subscriber.context == context
        ]
        if not work:
            return
        blocked = _blocked_streams(alias, work)
        for subscriber, item in work:
            envelope = item["envelope"]
            stream = (subscriber.name, envelope["aggregate_id"])
            if stream in blocked:
                _park(alias, subscriber, item, status=FailedDelivery.Status.HELD)
                continue
            failed = not deliver(alias, subscriber, item)
            if failed and _park_failure(alias, subscriber, item) == FailedDelivery.Status.RETRYING:
                blocked.add(stream)


def deliver(alias: str, subscriber: Subscriber, item: dict[str, Any]) -> bool:
    """Run one delivery in a savepoint; True if applied now or before, False if it failed."""
    envelope = item["envelope"]
    try:
        with transaction.atomic(using=alias), _request_id(item.get("headers", {})):
            try:
                with transaction.atomic(using=alias):
                    InboxEntry.objects.using(alias).create(
                        event_id=envelope["event_id"],
                        subscriber=subscriber.name,
                        event_type=envelope["event_type"],
                    )
            except IntegrityError:
                return True  # already applied: a redelivery
            subscriber.handler(subscriber.decode(envelope))
    except Exception as exc:  # the subscriber's failure is recorded, never propagated
        item["_error"] = exc
        return False
    return True


def _blocked_streams(alias: str, work: list[tuple[Subscriber, dict[str, Any]]]) -> set[Stream]:
    names = {subscriber.name for subscriber, _ in work}
    aggregates = {item["envelope"]["aggregate_id"] for _, item in work}
    rows = FailedDelivery.objects.using(alias).filter(
        subscriber__in=names,
        aggregate_id__in=aggregates,
        status__in=[FailedDelivery.Status.RETRYING, FailedDelivery.Status.HELD],
    )
    return set(rows.values_list("subscriber", "aggregate_id"))


def _park(alias: str, subscriber: Subscriber, item: dict[str, Any], *, status: str) -> None:
    envelope = item["envelope"]
    FailedDelivery.objects.using(alias).get_or_create(
        subscriber=subscriber.name,
        event_id=envelope["event_id"],
        defaults={
            "event_type": envelope["event_type"],
            "aggregate_id": envelope["aggregate_id"],
            "envelope": envelope,
            "headers": item.get("headers", {}),
            "status": status,
        },
    )


def _park_failure(alias: str, subscriber: Subscriber, item: dict[str, Any]) -> str:
    envelope = item["envelope"]
    row, _ = FailedDelivery.objects.using(alias).get_or_create(
        subscriber=subscriber.name,
        event_id=envelope["event_id"],
        defaults={
            "event_type": envelope["event_type"],
            "aggregate_id": envelope["aggregate_id"],
            "envelope": envelope,
            "headers": item.get("headers", {}),
            "status": FailedDelivery.Status.RETRYING,
        },
    )
    return record_failure(alias, row, item.pop("_error"))


def record_failure(alias: str, row: FailedDelivery, error: BaseException) -> str:
    """Count a failed attempt: schedule a retry, or make it a dead letter. Returns the status."""
    row.attempts += 1
    row.last_error = f"{type(error).__name__}: {error}"[:2000]
    row.traceback = "".join(traceback.format_exception(error))[-10000:]
    row.updated_at = timezone.now()
    permanent = isinstance(error, PermanentError)
    if permanent or row.attempts >= settings.CLEAVE_EVENTS_MAX_ATTEMPTS:
        row.status = FailedDelivery.Status.DEAD
        row.next_attempt_at = None
        logger.error(
            "dead letter: %s on %s %s after %d attempt(s): %s",
            row.subscriber, row.event_type, row.event_id, row.attempts, row.last_error,
        )  # fmt: skip
    else:
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


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with full jitter, capped."""
    base: float = settings.CLEAVE_EVENTS_RETRY_BASE_SECONDS
    ceiling = min(settings.CLEAVE_EVENTS_RETRY_MAX_SECONDS, base * 2 ** (attempts - 1))
    return timedelta(seconds=base / 2 + random.uniform(0, ceiling))  # noqa: S311 - jitter, not crypto


@contextmanager
def _request_id(headers: dict[str, Any]) -> Iterator[None]:
    token = current_request_id.set(str(headers.get("request_id") or "-"))
    try:
        yield
    finally:
        current_request_id.reset(token)
