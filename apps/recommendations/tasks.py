"""recommendations's periodic batch (Celery beat in real mode; scheduled from apps.py)."""

from __future__ import annotations

from celery import shared_task

from apps.recommendations.services.signals import recompute

PERIODIC_TASK = "recommendations.recompute"


@shared_task(name=PERIODIC_TASK, ignore_result=True)
def periodic() -> dict[str, int]:
    """Popularity and co-purchases counted again from the tickets; old area activity dropped."""
    return recompute()
