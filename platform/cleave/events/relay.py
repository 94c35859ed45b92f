"""Hand committed outbox rows to the subscribing contexts: Celery queues, or in-process.

Rows are claimed with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL), so any number of relays and
sweepers can run at once without sending a row twice; one broker message carries a whole batch
for one context's queue (`events.<context>`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cleave.events.models import OutboxEvent
from cleave.events.subscribers import subscribers

logger = logging.getLogger(__name__)

BATCH_SIZE = 500


def queue_for(context: str) -> str:
    return f"events.{context}"


def relay(alias: str, *, ids: Iterable[int] | None = None, limit: int = BATCH_SIZE) -> int:
    """Hand off up to `limit` undispatched rows (only `ids`, if given); return how many."""
    with transaction.atomic(using=alias):
        pending = OutboxEvent.objects.using(alias).select_for_update(skip_locked=True)
        pending = pending.filter(dispatched_at__isnull=True)
        if ids is not None:
            pending = pending.filter(id__in=list(ids))
        rows = list(pending.order_by("id")[:limit])
        if not rows:
            return 0
        for context, items in _batches(rows).items():
            hand_off(context, items)
        OutboxEvent.objects.using(alias).filter(id__in=[row.pk for row in rows]).update(
            dispatched_at=timezone.now()
        )
    return len(rows)


def relay_all(alias: str, *, max_rounds: int = 100) -> int:
    """The sweeper: relay until nothing is pending (bounded, so one call never runs forever)."""
    total = 0
    for _ in range(max_rounds):
        count = relay(alias)
        total += count
        if count < BATCH_SIZE:
            break
    return total


def _batches(rows: list[OutboxEvent]) -> dict[str, list[dict[str, Any]]]:
    # Publish order (outbox id) is kept inside each context's batch.
    batches: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for context in sorted(subscribers.contexts_for(row.event_type)):
            batches.setdefault(context, []).append(
                {"envelope": row.envelope, "headers": row.headers}
            )
    return batches


def hand_off(context: str, items: list[dict[str, Any]]) -> None:
    """Deliver a batch to `context`: in-process in embedded mode, else through its queue."""
    if settings.CLEAVE_EVENTS_INPROCESS:
        from cleave.events.consumer import consume

        consume(context, items)
        return
    from cleave.events.tasks import deliver_batch

    deliver_batch.apply_async(args=[context, items], queue=queue_for(context))
