"""The hourly purge of idempotency answers older than 24 hours (Celery beat in real mode)."""

from __future__ import annotations

from celery import shared_task

from cleave.databases import context_labels, database_for
from cleave.idempotency.store import expired_purge


@shared_task(name="cleave.idempotency.purge")
def purge() -> int:
    """Every hosted context's database holds answers of its own routes."""
    aliases = sorted({"default", *(database_for(label) for label in context_labels())})
    return sum(expired_purge(alias=alias) for alias in aliases)
