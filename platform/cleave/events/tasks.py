"""Celery tasks of the event bus: batch delivery on `events.<context>`, sweeper, retries, purge."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from cleave.databases import context_labels, database_for
from cleave.events.consumer import consume
from cleave.events.models import InboxEntry, OutboxEvent
from cleave.events.relay import relay_all
from cleave.events.retries import release_overdue, release_ready, retry_due

logger = logging.getLogger(__name__)


def hosted_aliases() -> list[str]:
    """Every database alias holding some hosted context's outbox/inbox (or just `default`)."""
    return sorted({"default", *(database_for(label) for label in context_labels())})


@shared_task(
    name="cleave.events.deliver_batch",
    autoretry_for=(Exception,),  # the database or the worker failed, not a subscriber
    retry_backoff=True,
    # Short: the batch's events are marked handed off, so only this retry brings them; while it
    # waits, later events of its aggregates are held (cleave.events.sequencing). A long backoff
    # (it was 300 s, full jitter) made a batch that failed a few times during a database restart
    # arrive minutes after the database was back. Below the events worker's visibility timeout,
    # so the retry's delayed message is not swept back as a copy.
    retry_backoff_max=5,
    retry_jitter=True,
    max_retries=720,  # about an hour of a database outage
)
def deliver_batch(context: str, items: list[dict[str, Any]]) -> int:
    consume(context, items)
    return len(items)


@shared_task(name="cleave.events.sweep_outbox")
def sweep_outbox() -> int:
    """Hand off committed rows whose immediate hand-off was lost (crash, broker outage)."""
    total = sum(relay_all(alias) for alias in hosted_aliases())
    if total:
        logger.info("outbox sweeper handed off %d event(s)", total)
    return total


@shared_task(name="cleave.events.retry_due")
def retry_due_deliveries() -> int:
    """Retry due deliveries, release held ones whose turn came, and let streams held past the
    hold timeout move on."""
    return sum(
        retry_due(alias) + release_ready(alias) + release_overdue(alias)
        for alias in hosted_aliases()
    )


@shared_task(name="cleave.events.purge")
def purge() -> dict[str, int]:
    """Delete dispatched outbox rows and inbox entries older than the retention."""
    cutoff = timezone.now() - timedelta(days=settings.CLEAVE_EVENTS_RETENTION_DAYS)
    deleted = {"outbox": 0, "inbox": 0}
    for alias in hosted_aliases():
        deleted["outbox"] += (
            OutboxEvent.objects.using(alias).filter(dispatched_at__lt=cutoff).delete()[0]
        )
        deleted["inbox"] += (
            InboxEntry.objects.using(alias).filter(processed_at__lt=cutoff).delete()[0]
        )
    return deleted
