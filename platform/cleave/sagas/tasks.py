"""Celery tasks of the saga engine: run a saga (on its context's `events.<context>` queue) and
the sweeper (beat)."""

from __future__ import annotations

from celery import shared_task

from cleave.sagas.runner import advance
from cleave.sagas.sweeper import sweep


@shared_task(name="cleave.sagas.advance")
def advance_saga(saga_name: str, saga_id: str) -> str:
    return advance(saga_name, saga_id)


@shared_task(name="cleave.sagas.sweep")
def sweep_sagas() -> int:
    """Hand off sagas whose next try is due or whose hand-off was lost, and those past their
    step's deadline (the runner compensates them)."""
    return sweep()
