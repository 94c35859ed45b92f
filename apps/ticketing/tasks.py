"""ticketing's background tasks: the hold sweeper (Celery beat, every HOLD_SWEEP_SECONDS) and
the waiting rooms' admission rounds (every ADMISSION_ROUND_SECONDS)."""

from __future__ import annotations

from celery import shared_task

from apps.ticketing.services import holds, waiting_room

HOLDS_EXPIRE_TASK = "ticketing.holds_expire"
HOLD_SWEEP_SECONDS = 15.0  # a hold's seats come back within this of its expiry, at worst
ROOMS_ADMIT_TASK = "ticketing.rooms_admit"
ADMISSION_ROUND_SECONDS = 1.0  # a waiting buyer is let through within this of their turn


@shared_task(name=HOLDS_EXPIRE_TASK, ignore_result=True)
def holds_expire() -> int:
    """Expire every hold past its time (in batches of 500 until none is left)."""
    total = 0
    while (done := holds.holds_expire()) > 0:
        total += done
    return total


@shared_task(name=ROOMS_ADMIT_TASK, ignore_result=True)
def rooms_admit() -> int:
    """Let the next buyers of every waiting room through, as their rooms' budgets allow."""
    return waiting_room.rooms_admit()
