"""Judging an uploaded batch item by item (pure functions: no database)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.tracking.domain.validation import (
    ItemError,
    Limits,
    Point,
    check_action,
    check_batch,
    check_point,
    estimate_skew,
    parse_time,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    max_skew=timedelta(hours=12),
    future_tolerance=timedelta(minutes=2),
    max_age=timedelta(days=7),
)


def point(**fields: Any) -> dict[str, Any]:
    return {"t": "2026-12-06T11:59:00+00:00", "lat": 48.85, "lon": 2.35, "accuracy": 8} | fields


def errors_of(raw: Any, skew: timedelta = timedelta(0)) -> list[tuple[str, str]]:
    result = check_point(raw, 3, skew=skew, now=NOW, limits=LIMITS)
    assert isinstance(result, list), result
    return [(error.field, error.code) for error in result]


def test_a_valid_point_is_kept_with_its_optional_fields() -> None:
    raw = point(speed=1.5, heading=90, activity="walking")
    kept = check_point(raw, 0, skew=timedelta(0), now=NOW, limits=LIMITS)
    assert kept == Point(
        datetime(2026, 12, 6, 11, 59, tzinfo=UTC), 48.85, 2.35, 8.0, 1.5, 90.0, "walking"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"lat": 90.0001}, [("lat", "out_of_range")]),
        ({"lat": -91}, [("lat", "out_of_range")]),
        ({"lon": 180.5}, [("lon", "out_of_range")]),
        ({"lat": "48.8"}, [("lat", "invalid_type")]),
        ({"lat": True}, [("lat", "invalid_type")]),
        ({"lon": math.nan}, [("lon", "invalid_type")]),
        ({"lon": math.inf}, [("lon", "invalid_type")]),
        ({"accuracy": 0}, [("accuracy", "out_of_range")]),
        ({"accuracy": 5001}, [("accuracy", "out_of_range")]),
        ({"speed": -1}, [("speed", "out_of_range")]),
        ({"speed": 151}, [("speed", "out_of_range")]),
        ({"heading": 361}, [("heading", "out_of_range")]),
        ({"activity": "flying"}, [("activity", "unknown_value")]),
        ({"activity": 3}, [("activity", "unknown_value")]),
        ({"altitude": 30}, [("altitude", "unknown_field")]),
        ({"t": "2026-12-06T11:59:00"}, [("t", "invalid_time")]),  # naive: which zone?
        ({"t": "yesterday"}, [("t", "invalid_time")]),
        ({"t": 1765022340}, [("t", "invalid_time")]),
        ({"t": "2026-12-06T12:02:01+00:00"}, [("t", "in_future")]),
        ({"t": "2026-11-29T11:59:59+00:00"}, [("t", "too_old")]),
        ({"lat": 91, "lon": 181}, [("lat", "out_of_range"), ("lon", "out_of_range")]),
    ],
)
def test_an_invalid_field_is_named_with_its_code(
    fields: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    assert errors_of(point(**fields)) == expected


def test_missing_fields_are_each_required() -> None:
    assert errors_of({}) == [
        ("t", "required"),
        ("lat", "required"),
        ("lon", "required"),
        ("accuracy", "required"),
    ]


def test_an_item_that_is_not_an_object_is_rejected_whole() -> None:
    assert check_point([1, 2], 4, skew=timedelta(0), now=NOW, limits=LIMITS) == [
        ItemError("points", 4, "", "not_an_object")
    ]


def test_the_limits_themselves_are_accepted() -> None:
    edge = point(lat=-90, lon=180, accuracy=5000, speed=0, heading=0, t="2026-12-06T12:02:00Z")
    assert isinstance(check_point(edge, 0, skew=timedelta(0), now=NOW, limits=LIMITS), Point)


def test_an_error_never_echoes_the_rejected_value() -> None:
    raw = point(lat=123.456789)
    (error,) = check_point(raw, 0, skew=timedelta(0), now=NOW, limits=LIMITS)  # type: ignore[misc]
    assert "123" not in repr(error.as_dict())


def test_skew_is_what_the_device_clock_lags_and_is_clamped() -> None:
    behind = estimate_skew(
        device_time=NOW - timedelta(minutes=5), received_at=NOW, limit=LIMITS.max_skew
    )
    ahead = estimate_skew(
        device_time=NOW + timedelta(days=3), received_at=NOW, limit=LIMITS.max_skew
    )
    noise = estimate_skew(
        device_time=NOW - timedelta(seconds=1), received_at=NOW, limit=LIMITS.max_skew
    )
    assert (behind, ahead, noise) == (timedelta(minutes=5), -timedelta(hours=12), timedelta(0))


def test_a_slow_device_clock_is_corrected_so_its_points_are_not_in_the_past() -> None:
    # The phone's clock is 10 minutes behind: its "11:52" was the server's 12:02 minus 0 → kept.
    skew = timedelta(minutes=10)
    kept = check_point(point(t="2026-12-06T11:51:00+00:00"), 0, skew=skew, now=NOW, limits=LIMITS)
    assert isinstance(kept, Point)
    assert kept.t == datetime(2026, 12, 6, 12, 1, tzinfo=UTC)
    # …and a point its own clock puts in the future can be fine once corrected.
    fast = check_point(
        point(t="2026-12-06T12:30:00+00:00"), 0, skew=-timedelta(minutes=30), now=NOW, limits=LIMITS
    )
    assert isinstance(fast, Point)


def test_actions_need_a_time_a_kind_and_an_object_of_data() -> None:
    ok = check_action(
        {"t": "2026-12-06T11:00:00Z", "kind": "app.open", "data": {"screen": "map"}},
        0,
        skew=timedelta(0),
        now=NOW,
        limits=LIMITS,
    )
    bad = check_action(
        {"t": "2026-12-06T11:00:00Z", "kind": "", "data": [1]},
        2,
        skew=timedelta(0),
        now=NOW,
        limits=LIMITS,
    )
    assert not isinstance(ok, list)
    assert ok.kind == "app.open"
    assert bad == [
        ItemError("actions", 2, "kind", "invalid_type"),
        ItemError("actions", 2, "data", "invalid_type"),
    ]


def test_a_batch_keeps_the_valid_items_sorted_and_lists_every_rejection() -> None:
    checked = check_batch(
        points=[
            point(t="2026-12-06T11:58:00Z"),
            point(lat=200),
            point(t="2026-12-06T11:40:00Z"),  # out of order: normal for a phone
            "nonsense",
        ],
        actions=[{"t": "2026-12-06T11:00:00Z", "kind": "x", "data": {}}, {"kind": "y"}],
        device_time=NOW,
        received_at=NOW,
        limits=LIMITS,
    )
    assert [p.t.minute for p in checked.points] == [40, 58]
    assert len(checked.actions) == 1
    assert [e.as_dict() for e in checked.errors] == [
        {"item": "points", "index": 1, "field": "lat", "code": "out_of_range"},
        {"item": "points", "index": 3, "field": "", "code": "not_an_object"},
        {"item": "actions", "index": 1, "field": "t", "code": "required"},
    ]


def test_times_need_an_offset() -> None:
    assert parse_time("2026-12-06T11:00:00Z") == datetime(2026, 12, 6, 11, tzinfo=UTC)
    assert parse_time("2026-12-06T11:00:00") is None
    assert parse_time("x" * 100) is None
