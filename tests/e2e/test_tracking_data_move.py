"""Tracking moves to its own database with its event store: `context_data` carries its device
streams (still readable with the moved data keys), its snapshots and its projections'
checkpoints, which point at the same events in the target. Tracking's read models come along
as its own tables. (End to end across the kernel's data move and a real context: here.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cleave_deploy.tests.test_context_data import (  # the target database and the commands
    TARGET,
    _import,
    _Quiet,
    _target_database,  # noqa: F401 - an autouse fixture, here by import
    _verify,
)
from django.core.management import call_command

from apps.tracking.models import Trip
from apps.tracking.services.consent import consent_set
from apps.tracking.services.ingest import batch_ingest
from cleave.eventstore.models import ProjectionCheckpoint, StoredEvent
from cleave.eventstore.store import _COLUMNS, decode_rows
from cleave.eventstore.subscriptions import catchup

pytestmark = pytest.mark.django_db(databases=["default", "target"])


def _device_log(alias: str) -> list[tuple[str, int, str, dict[str, object]]]:
    rows = StoredEvent.objects.using(alias).filter(stream__startswith="tracking.")
    events = decode_rows(rows.order_by("id").values_list(*_COLUMNS), alias=alias,
                         skip_forgotten=False)  # fmt: skip
    return [(e.stream, e.stream_version, e.type, e.data) for e in events]


def test_tracking_moves_with_its_streams_and_its_projections_go_on_from_the_same_event(
    tmp_path: Path,
) -> None:
    consent_set(user_id=42, granted=True, changed_by=42, source="test")
    now = datetime.now(UTC)
    for number in range(2):
        points = [
            {
                "t": (now - timedelta(minutes=10 - number, seconds=-i)).isoformat(),
                "lat": 48.85 + i * 1e-4,
                "lon": 2.35,
                "accuracy": 5,
            }  # fmt: skip
            for i in range(5)
        ]
        batch_ingest(user_id=42, session_id="phone", batch_id=f"b{number}",
                     device_time=now, points=points, actions=[])  # fmt: skip
    catchup()
    source = _device_log("default")
    assert [kind for _, _, kind, _ in source][:2] == [
        "tracking.TripStarted", "tracking.PointsRecorded"
    ]  # fmt: skip
    dump = tmp_path / "tracking.jsonl"
    call_command("context_data", "export", "tracking", "--output", str(dump),
                 "--allow-pending", stdout=_Quiet())  # fmt: skip

    _import("tracking", dump)

    assert _device_log(TARGET) == source  # every payload opens with the moved key
    last = StoredEvent.objects.using(TARGET).filter(stream__startswith="tracking.").latest("id")
    checkpoints = ProjectionCheckpoint.objects.using(TARGET).filter(name__startswith="tracking.")
    assert {c.name: c.position for c in checkpoints} == {
        name: last.id
        for name in ("tracking.areas", "tracking.last_location", "tracking.trips",
                     "tracking.visits")
    }  # fmt: skip
    assert Trip.objects.using(TARGET).get().point_count == 10
    _verify("tracking", dump)
    _verify("tracking", dump, alias="default")
