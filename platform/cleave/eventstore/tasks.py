"""Celery tasks of the event store: catch-up after appends, and the periodic tick."""

from __future__ import annotations

from celery import shared_task

from cleave.eventstore.retention import retention_run
from cleave.eventstore.subscriptions import catchup, clear_pending


@shared_task(name="cleave.eventstore.catchup")
def catchup_task(alias: str) -> int:
    """Catch up the projections of `alias` after an append committed there."""
    clear_pending(alias)  # before reading: a commit from now on queues another run
    return catchup(alias)


@shared_task(name="cleave.eventstore.tick")
def tick() -> int:
    """Periodic: catch every projection up (after a lost task, or a failed one)."""
    return catchup()


@shared_task(name="cleave.eventstore.retention")
def retention() -> dict[str, int]:
    """Daily: drop whole streams older than their category's window."""
    return retention_run()
