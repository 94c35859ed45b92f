"""The periodic pass: pause idle trips, end them after the inactivity window, expire shares."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.tracking.config import tracking_setting
from apps.tracking.models import Device
from apps.tracking.selectors import DB, consent_lock
from apps.tracking.services.devices import device_check_inactivity


def trips_check_inactivity(*, limit: int = 500) -> int:
    """Pause or end the open trips idle past the pause window; one transaction per device,
    each under its user's consent lock (as uploads are). The number of devices changed."""
    idle_since = timezone.now() - timedelta(
        seconds=tracking_setting("CLEAVE_TRACKING_PAUSE_SECONDS")
    )
    candidates = list(
        Device.objects.using(DB)
        .filter(trip_open=True, last_point_at__lte=idle_since)
        .order_by("last_point_at")
        .values_list("stream", "user_id")[:limit]
    )
    changed = 0
    for stream, user_id in candidates:
        with transaction.atomic(using=DB):
            consent_lock(user_id=user_id)
            changed += device_check_inactivity(stream=stream, user_id=user_id)
    return changed
