"""Consent, then uploads: once per batch_id, item by item, recorded on the device's trips."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from apps.tracking.models import ConsentChange
from apps.tracking.services.devices import device_record_actions, device_stream
from apps.tracking.services.ingest import batch_ingest
from apps.tracking.tests.conftest import at
from cleave.eventstore import read_stream

pytestmark = pytest.mark.django_db(transaction=True)


def stream_types(user_id: int, session_id: str) -> list[str]:
    events = read_stream(device_stream(user_id=user_id, session_id=session_id))
    return [event.type.split(".")[1] for event in events]


def test_nothing_is_recorded_before_consent(phone: Any) -> None:
    ada = phone(1)
    answer = ada.upload([at(1, 48.85, 2.35)])
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "tracking_consent_required"
    assert ada.request("get", "/consent").json() == {"granted": False, "changed_at": None}


def test_consent_changes_are_audited_and_a_repeat_is_not_a_change(phone: Any) -> None:
    ada = phone(1)
    assert ada.consent(True)["granted"] is True
    ada.consent(True)
    assert ada.consent(False)["granted"] is False
    trail = ConsentChange.objects.order_by("id").values_list("user_id", "granted", "source")
    assert list(trail) == [(1, True, "api"), (1, False, "api")]


def test_a_batch_keeps_valid_points_and_rejects_bad_ones_item_by_item(phone: Any) -> None:
    ada = phone(1, session_id="s1")
    ada.consent()
    answer = ada.upload(
        [at(3, 48.85, 2.35), at(2, 95.0, 2.35), at(1, 48.851, 2.351), {"lat": 1}],
        actions=[{"t": at(1, 0, 0)["t"], "kind": "app.open", "data": {}}, {"kind": ""}],
    )
    assert answer.status_code == 200, answer.content
    result = answer.json()
    assert result["accepted"] == {"points": 2, "actions": 1}
    assert result["rejected"] == 3  # items, each with all its errors
    assert [(e["item"], e["index"], e["field"], e["code"]) for e in result["errors"]] == [
        ("points", 1, "lat", "out_of_range"),
        ("points", 3, "t", "required"),
        ("points", 3, "lon", "required"),
        ("points", 3, "accuracy", "required"),
        ("actions", 1, "t", "required"),
        ("actions", 1, "kind", "invalid_type"),
    ]
    assert result["replayed"] is False
    assert len(result["trip_ids"]) == 1
    assert stream_types(1, "s1") == ["TripStarted", "PointsRecorded", "ActionsRecorded"]


def test_a_retried_batch_is_appended_once_and_answers_the_first_result(phone: Any) -> None:
    ada = phone(1, session_id="s1")
    ada.consent()
    points = [at(2, 48.85, 2.35), at(1, 48.86, 2.36)]
    first = ada.upload(points, batch_id="same")
    again = ada.upload(points, batch_id="same")
    assert again.status_code == 200
    assert again.json() == {**first.json(), "replayed": True}
    assert stream_types(1, "s1") == ["TripStarted", "PointsRecorded"]


def test_a_used_batch_id_with_another_body_is_a_conflict(phone: Any) -> None:
    ada = phone(1)
    ada.consent()
    ada.upload([at(2, 48.85, 2.35)], batch_id="same")
    answer = ada.upload([at(1, 10.0, 10.0)], batch_id="same")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "batch_conflict"


@pytest.mark.skipif(
    connections["default"].vendor == "sqlite",
    reason="SQLite runs one writer at a time (and the in-memory test database refuses a second "
    "connection's); the race is PostgreSQL's: run in real mode",
)
def test_two_identical_uploads_at_once_are_appended_once(phone: Any) -> None:
    ada = phone(1, session_id="s1")
    ada.consent()
    points = [at(2, 48.85, 2.35), at(1, 48.86, 2.36)]
    device_time = timezone.now()
    results: list[dict[str, Any]] = []
    start = threading.Barrier(2)

    def upload() -> None:
        try:
            start.wait()
            results.append(
                batch_ingest(
                    user_id=1,
                    session_id="s1",
                    batch_id="twice",
                    device_time=device_time,
                    points=points,
                    actions=[],
                )
            )
        finally:
            connections.close_all()

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(result["replayed"] for result in results) == [False, True]
    assert stream_types(1, "s1") == ["TripStarted", "PointsRecorded"]


def test_a_stream_moved_by_another_writer_meanwhile_is_read_again_and_appended_once(
    phone: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = phone(1, session_id="s1")
    ada.consent()
    new_trip_id = uuid.uuid4
    moved: list[bool] = []

    def another_writer_first() -> uuid.UUID:
        # Deciding a new trip asks for its id after the stream was read and before the append:
        # another writer (here the device's actions) appends to the stream just then, once.
        if not moved:
            moved.append(True)
            device_record_actions(user_id=1, session_id="s1", batch_id="other", actions=[[0]])
        return new_trip_id()

    points = [at(2, 48.85, 2.35), at(1, 48.86, 2.36)]
    monkeypatch.setattr(uuid, "uuid4", another_writer_first)
    result = batch_ingest(
        user_id=1,
        session_id="s1",
        batch_id="b1",
        device_time=timezone.now(),
        points=points,
        actions=[],
    )
    assert result["accepted"]["points"] == 2
    assert moved == [True]
    assert stream_types(1, "s1") == ["ActionsRecorded", "TripStarted", "PointsRecorded"]


def test_the_device_clock_skew_is_estimated_and_applied(phone: Any, project: Any) -> None:
    ada = phone(1)
    ada.consent()
    # The phone's clock is an hour behind: its "now" is the server's an hour ago.
    slow = timezone.now() - timedelta(hours=1)
    point = {
        "t": (slow - timedelta(minutes=1)).isoformat(),
        "lat": 48.85,
        "lon": 2.35,
        "accuracy": 5,
    }
    result = ada.upload([point], device_time=slow).json()
    assert 3590 < result["skew_seconds"] < 3610
    project()
    seen = ada.request("get", "/location").json()
    assert abs((timezone.now() - datetime.fromisoformat(seen["t"])).total_seconds() - 60) < 15


def test_revoking_consent_stops_ingest_and_ends_the_open_trip(phone: Any, project: Any) -> None:
    ada = phone(1, session_id="s1")
    ada.consent()
    ada.upload([at(2, 48.85, 2.35), at(1, 48.86, 2.36)])
    ada.consent(False)
    assert ada.upload([at(0, 48.87, 2.37)]).status_code == 403
    assert stream_types(1, "s1") == ["TripStarted", "PointsRecorded", "TripEnded"]
    project()
    (trip,) = ada.request("get", "/trips").json()["items"]
    assert (trip["status"], trip["end_reason"]) == ("ended", "consent_revoked")


def test_a_batch_over_500_items_is_refused_whole(phone: Any) -> None:
    ada = phone(1)
    ada.consent()
    answer = ada.upload([at(1, 1.0, 1.0)] * 300, actions=[{"t": "x", "kind": "k"}] * 201)
    assert answer.status_code == 422
