"""Tracking over HTTP only: consent first, an upload recorded once per `batch_id` with bad items
rejected one by one, the trips it made, and a revocation that ends them and stops uploads.

One account (`erin`) for the whole file: its consent and trips are this file's (the other files
never turn tracking on). The tests run in any order: each that uploads grants consent first, and
the revocation's own upload comes from a second session (its own device stream and trip). Read
models are fed by projections after the upload's commit (at once in embedded mode, through a
worker otherwise), so the trips are polled for.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from client import Api, User, error_of, expect, poll

TRACKING = "/api/v1/tracking"
POLL_SECONDS = 20.0  # a split deployment's worker catches the projections up


def _at(minutes_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def _batch(batch_id: str, points: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"batch_id": batch_id, "device_time": _at(0), "points": points, **extra}


@pytest.fixture(scope="module")
def tracked(api: Api, erin: User) -> dict[str, Any]:
    """Erin opted in and uploaded one batch (three good points, two bad ones, one action)."""
    as_erin = api.as_(erin)
    batch_id = _new_id()
    # London, three points a minute apart, walking north (about 11 m each).
    good = [
        {
            "t": _at(10 - i),
            "lat": 51.5 + i * 1e-4,
            "lon": -0.12,
            "accuracy": 5,
            "activity": "walking",
        }
        for i in range(3)
    ]
    bad = [
        {"t": _at(5), "lat": 95.0, "lon": -0.12, "accuracy": 5},  # latitude out of range
        {"lat": 51.5, "lon": -0.12, "accuracy": 5},  # no time
    ]
    body = _batch(
        batch_id,
        [good[0], bad[0], good[1], bad[1], good[2]],
        actions=[{"t": _at(9), "kind": "app.open", "data": {"screen": "map"}}],
    )
    refused = error_of(as_erin.post(f"{TRACKING}/batches", body), 403)
    assert refused["code"] == "tracking_consent_required"
    consent = expect(as_erin.put(f"{TRACKING}/consent", {"granted": True}), 200)
    assert consent["granted"] is True
    first = expect(as_erin.post(f"{TRACKING}/batches", body), 200)
    return {"api": as_erin, "body": body, "first": first}


def test_bad_items_are_rejected_one_by_one_and_the_good_ones_kept(tracked: dict[str, Any]) -> None:
    first = tracked["first"]
    assert first["replayed"] is False
    assert first["accepted"] == {"points": 3, "actions": 1}
    assert first["rejected"] == 2
    codes = {(e["item"], e["index"], e["field"], e["code"]) for e in first["errors"]}
    assert codes == {("points", 1, "lat", "out_of_range"), ("points", 3, "t", "required")}
    assert len(first["trip_ids"]) == 1


def test_a_retried_upload_is_answered_from_the_first_and_appended_once(
    tracked: dict[str, Any],
) -> None:
    as_erin, body, first = tracked["api"], tracked["body"], tracked["first"]
    expect(as_erin.put(f"{TRACKING}/consent", {"granted": True}), 200)
    retry = expect(as_erin.post(f"{TRACKING}/batches", {**body, "device_time": _at(0)}), 200)

    assert retry["replayed"] is True
    assert {k: v for k, v in retry.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    changed = {**body, "points": body["points"][:1]}
    conflict = error_of(as_erin.post(f"{TRACKING}/batches", changed), 409)
    assert conflict["code"] == "batch_conflict"
    trip = _trip(as_erin, first["trip_ids"][0], lambda t: t["point_count"] >= 3)
    assert trip["point_count"] == 3  # not 6: the retry appended nothing


def test_the_upload_made_a_trip_listed_newest_first_with_its_path(tracked: dict[str, Any]) -> None:
    as_erin, trip_id = tracked["api"], tracked["first"]["trip_ids"][0]
    listed = _trip(as_erin, trip_id, lambda t: t["point_count"] == 3)

    assert listed["status"] in {"active", "paused", "ended"}  # ended if the revocation ran first
    assert 15 < listed["distance_m"] < 30  # two steps of ~11 m
    assert listed["duration_seconds"] == pytest.approx(120, abs=2)
    detail = expect(as_erin.get(f"{TRACKING}/trips/{trip_id}"), 200)
    assert detail["trip_id"] == trip_id
    assert len(detail["path"]) >= 2
    missing = error_of(as_erin.get(f"{TRACKING}/trips/{uuid.uuid4()}"), 404)
    assert missing["code"].endswith("not_found")


def test_revoking_consent_ends_the_trips_and_refuses_the_next_upload(
    api: Api, erin: User, tracked: dict[str, Any]
) -> None:
    phone = api.as_(api.login(erin.email, erin.password, label="erin-phone"))
    expect(phone.put(f"{TRACKING}/consent", {"granted": True}), 200)
    point = {"t": _at(1), "lat": 51.51, "lon": -0.12, "accuracy": 5}
    uploaded = expect(phone.post(f"{TRACKING}/batches", _batch(_new_id(), [point])), 200)
    (trip_id,) = uploaded["trip_ids"]
    _trip(phone, trip_id, lambda t: t["status"] == "active")

    revoked = expect(phone.put(f"{TRACKING}/consent", {"granted": False}), 200)

    assert revoked["granted"] is False
    assert expect(phone.get(f"{TRACKING}/consent"), 200)["granted"] is False
    ended = _trip(phone, trip_id, lambda t: t["status"] == "ended")
    assert ended["end_reason"] == "consent_revoked"
    refused = error_of(phone.post(f"{TRACKING}/batches", _batch(_new_id(), [point])), 403)
    assert refused["code"] == "tracking_consent_required"


def _new_id() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def _trip(as_user: Api, trip_id: str, ready: Any) -> dict[str, Any]:
    """The trip as `GET /trips` lists it, once the projection shows what `ready` wants."""

    def listed() -> dict[str, Any] | None:
        page = expect(as_user.get(f"{TRACKING}/trips"), 200)
        found = [t for t in page["items"] if t["trip_id"] == trip_id]
        return found[0] if found and ready(found[0]) else None

    return poll(listed, what=f"trip {trip_id} in GET /trips", timeout=POLL_SECONDS)
