"""Retry due deliveries, release held ones in order, replay dead letters."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from cleave.events.consumer import deliver, record_failure, request_id_of
from cleave.events.models import FailedDelivery
from cleave.events.subscribers import subscribers

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
            if _attempt(alias, row):
                _release_held(alias, row.subscriber, row.aggregate_id)
    return len(due)


def _attempt(alias: str, row: FailedDelivery) -> bool:
    """Deliver `row` again. True when the stream may move on (delivered, or now dead)."""
    try:
        subscriber = subscribers.get(row.subscriber)
    except KeyError:
        return False  # not hosted in this process: its own service retries it
    item = {"envelope": row.envelope, "headers": row.headers}
    with request_id_of(item):
        if deliver(alias, subscriber, item):
            row.delete(using=alias)
            return True
        return record_failure(alias, row, item.pop("_error")) == Status.DEAD


def _release_held(alias: str, subscriber_name: str, aggregate_id: str) -> None:
    held = FailedDelivery.objects.using(alias).filter(
        subscriber=subscriber_name, aggregate_id=aggregate_id, status=Status.HELD
    )
    for row in held.order_by("id"):
        if not _attempt(alias, row):
            return  # this one now heads the stream (retrying); the rest stay held behind it


def replay(alias: str, ids: Iterable[int]) -> int:
    """Send dead letters back for delivery (now); return how many were re-queued."""
    with transaction.atomic(using=alias):
        count = (
            FailedDelivery.objects.using(alias)
            .filter(id__in=list(ids), status=Status.DEAD)
            .update(status=Status.RETRYING, attempts=0, next_attempt_at=timezone.now())
        )
    logger.info("replaying %d dead letter(s)", count)
    return count
