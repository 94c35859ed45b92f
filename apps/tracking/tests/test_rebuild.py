"""The read models are a function of the log: rebuilding every projection from zero gives the
same rows, and publishes no integration event a second time."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from apps.tracking.models import AreaCount, Geofence, LastLocation, Trip, Visit
from apps.tracking.services.areas import areas_publish
from apps.tracking.services.inactivity import trips_check_inactivity
from apps.tracking.tests.conftest import at
from cleave.events.models import OutboxEvent
from cleave.eventstore.projections import registered_projections
from cleave.eventstore.rebuild import projection_rebuild


def read_models() -> dict[str, list[Any]]:
    return {
        "locations": list(
            LastLocation.objects.order_by("user_id").values_list("user_id", "t", "lat", "lon")
        ),
        "trips": list(
            Trip.objects.order_by("trip_id").values_list(
                "trip_id", "status", "point_count", "distance_m", "path", "ended_at"
            )
        ),
        "visits": list(
            Visit.objects.order_by("visit_id").values_list("visit_id", "entered_at", "exited_at")
        ),
        "areas": list(
            AreaCount.objects.order_by("cell", "hour").values_list("cell", "hour", "visitors")
        ),
    }


@pytest.mark.django_db(transaction=True)
@override_settings(CLEAVE_TRACKING_TRIP_END_SECONDS=600, CLEAVE_TRACKING_AREA_MIN_VISITORS=1)
def test_rebuilding_every_projection_gives_the_same_rows_and_no_event_twice(
    phone: Any, project: Any
) -> None:
    Geofence.objects.create(name="office", lat=48.0, lon=2.0, radius_m=100)
    ada = phone(1, session_id="s1")
    ada.consent()
    ada.upload([at(120, 48.0, 2.0), at(115, 48.0, 2.0001), at(110, 48.01, 2.0)])
    ada.upload([at(60, 48.02, 2.0), at(58, 48.021, 2.001)])  # a gap: the first trip ended
    trips_check_inactivity()  # …and the second ends idle
    project()
    areas_publish()
    before, published = read_models(), OutboxEvent.objects.count()
    assert len(before["trips"]) == 2
    assert len(before["visits"]) == 1
    assert published >= 4  # two TripEnded, GeofenceEntered/Exited, AreaActivity

    for projection in registered_projections():
        if projection.name.startswith("tracking."):
            projection_rebuild(projection, actor="test")
    areas_publish()  # the rebuilt hours are judged again

    assert read_models() == before
    assert OutboxEvent.objects.count() == published
