"""AreaActivity: each past hour's busy cells, published once to other contexts."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.tracking.config import tracking_setting
from apps.tracking.models import AreaCount
from apps.tracking.selectors import DB
from apps.tracking.services.publishing import fact_id, publish_once
from contracts.tracking import AreaActivity


def areas_publish() -> int:
    """Publish the finished hours' cells with enough visitors (fewer would place someone);
    every finished hour is marked either way (a rebuild of the areas unmarks them: their ids
    derive from cell and hour, so they are not sent twice). The number published."""
    current_hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    least = int(tracking_setting("CLEAVE_TRACKING_AREA_MIN_VISITORS"))
    sent = 0
    with transaction.atomic(using=DB):
        due = (
            AreaCount.objects.using(DB)
            .select_for_update(skip_locked=True)
            .filter(published=False, hour__lt=current_hour)
            .order_by("pk")[:1000]
        )
        done = []
        for count in due:
            done.append(count.pk)
            if count.visitors >= least:
                publish_once(
                    AreaActivity(
                        event_id=fact_id("area", count.cell, count.hour.isoformat()),
                        aggregate_id=f"{count.cell}@{count.hour.isoformat()}",
                        cell=count.cell,
                        hour=count.hour,
                        visitors=count.visitors,
                    )
                )
                sent += 1
        AreaCount.objects.using(DB).filter(pk__in=done).update(published=True)
    return sent
