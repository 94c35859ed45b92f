"""tracking's periodic tasks (Celery beat in real mode; see apps.py for the schedule)."""

from __future__ import annotations

from celery import shared_task

from apps.tracking.services.areas import areas_publish
from apps.tracking.services.inactivity import trips_check_inactivity
from apps.tracking.services.shares import shares_expire

PERIODIC_TASK = "tracking.periodic"


@shared_task(name=PERIODIC_TASK, ignore_result=True)
def periodic() -> dict[str, int]:
    """Idle trips paused or ended, expired shares detached, finished hours' areas published."""
    return {
        "trips": trips_check_inactivity(),
        "shares": shares_expire(),
        "areas": areas_publish(),
    }
