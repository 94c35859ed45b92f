"""The trip aggregate's decisions and geometry (pure functions: no database)."""

from __future__ import annotations

import itertools
from typing import Any

from apps.tracking.domain import geo, trips

MINUTE = 60_000
GAP = 30 * MINUTE


def rows(*minutes: int) -> list[list[Any]]:
    return [[m * MINUTE, 48.0 + m / 1000, 2.0, 5.0, None, None, None] for m in minutes]


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"trip-{next(counter)}"


def fold(events: trips.Decided, state: trips.DeviceState | None = None) -> trips.DeviceState:
    state = state or trips.DeviceState()
    for kind, data in events:
        state = trips.evolve(state, kind, data)
    return state


def decide(
    state: trips.DeviceState, minutes: list[int], new_id: Any, batch: str = "b"
) -> trips.Decided:
    return trips.decide_record(
        state, rows(*minutes), batch_id=batch, user_id=7, end_gap_ms=GAP, new_trip_id=new_id
    )


def kinds(events: trips.Decided) -> list[tuple[str, str]]:
    return [(kind.split(".")[1], data["trip_id"]) for kind, data in events]


def test_the_first_points_start_a_trip_with_one_points_recorded_event() -> None:
    events = decide(trips.DeviceState(), [0, 1, 2], ids())
    assert kinds(events) == [("TripStarted", "trip-1"), ("PointsRecorded", "trip-1")]
    assert len(events[1][1]["points"]) == 3
    assert fold(events).open == trips.Window("trip-1", 0, 2 * MINUTE)


def test_a_gap_ends_the_trip_and_starts_another_in_one_batch() -> None:
    events = decide(trips.DeviceState(), [0, 5, 50, 55], ids())
    assert kinds(events) == [
        ("TripStarted", "trip-1"),
        ("PointsRecorded", "trip-1"),
        ("TripEnded", "trip-1"),
        ("TripStarted", "trip-2"),
        ("PointsRecorded", "trip-2"),
    ]
    assert events[2][1]["reason"] == "gap"
    assert events[2][1]["ended_at"] == 5 * MINUTE
    state = fold(events)
    assert state.open is not None
    assert state.open.trip_id == "trip-2"
    assert [w.trip_id for w in state.recent] == ["trip-1"]


def test_late_points_join_the_trip_whose_time_they_fall_in() -> None:
    new_id = ids()
    state = fold(decide(trips.DeviceState(), [0, 10, 60, 70], new_id))  # trip-1 ended, trip-2 open
    late = decide(state, [12, 15], new_id, batch="late")
    assert kinds(late) == [("PointsRecorded", "trip-1")]


def test_points_older_than_anything_known_make_a_closed_trip_of_their_own() -> None:
    new_id = ids()
    state = fold(decide(trips.DeviceState(), [600, 610], new_id))
    late = decide(state, [0, 5], new_id)
    assert kinds(late) == [
        ("TripStarted", "trip-2"),
        ("PointsRecorded", "trip-2"),
        ("TripEnded", "trip-2"),
    ]
    assert late[0][1]["late"] is True
    assert late[2][1]["reason"] == "late"
    after = fold(late, state)
    assert after.open is not None
    assert after.open.trip_id == "trip-1"


def test_out_of_order_points_in_one_batch_are_recorded_by_time() -> None:
    shuffled = [r for r in rows(3, 1, 2)]
    shuffled.sort(key=lambda r: r[0])  # the service sorts; the aggregate keeps that order
    events = trips.decide_record(
        trips.DeviceState(), shuffled, batch_id="b", user_id=1, end_gap_ms=GAP, new_trip_id=ids()
    )
    assert [p[0] for p in events[1][1]["points"]] == [1 * MINUTE, 2 * MINUTE, 3 * MINUTE]


def test_inactivity_pauses_then_ends_the_open_trip() -> None:
    state = fold(decide(trips.DeviceState(), [0, 1], ids()))
    assert (
        trips.decide_inactivity(
            state, now_ms=3 * MINUTE, user_id=7, pause_ms=5 * MINUTE, end_ms=GAP
        )
        == []
    )
    paused = trips.decide_inactivity(
        state, now_ms=7 * MINUTE, user_id=7, pause_ms=5 * MINUTE, end_ms=GAP
    )
    assert kinds(paused) == [("TripPaused", "trip-1")]
    state = fold(paused, state)
    assert (
        trips.decide_inactivity(
            state, now_ms=8 * MINUTE, user_id=7, pause_ms=5 * MINUTE, end_ms=GAP
        )
        == []
    )
    ended = trips.decide_inactivity(
        state, now_ms=40 * MINUTE, user_id=7, pause_ms=5 * MINUTE, end_ms=GAP
    )
    assert kinds(ended) == [("TripEnded", "trip-1")]
    assert ended[0][1]["reason"] == "inactive"
    assert fold(ended, state).open is None


def test_new_points_resume_a_paused_trip() -> None:
    new_id = ids()
    state = fold(decide(trips.DeviceState(), [0], new_id))
    state = fold(
        trips.decide_inactivity(
            state, now_ms=6 * MINUTE, user_id=7, pause_ms=5 * MINUTE, end_ms=GAP
        ),
        state,
    )
    assert state.open is not None
    assert state.open.paused
    resumed = fold(decide(state, [10], new_id), state)
    assert resumed.open is not None
    assert not resumed.open.paused
    assert resumed.open.trip_id == "trip-1"


def test_state_survives_a_snapshot_round_trip() -> None:
    new_id = ids()
    state = fold(decide(trips.DeviceState(), [0, 5, 50], new_id))
    assert trips.DeviceState.from_dict(state.to_dict()) == state


def test_haversine_and_path_length() -> None:
    one_degree = geo.haversine_m((0.0, 0.0), (0.0, 1.0))
    assert abs(one_degree - 111_195) < 1
    assert geo.path_length_m([(0.0, 0.0), (0.0, 1.0), (0.0, 2.0)]) == 2 * one_degree


def test_douglas_peucker_drops_points_within_tolerance_and_keeps_corners() -> None:
    straight = [(48.0, 2.0 + i / 10_000) for i in range(50)]
    corner = [*straight, (48.01, 2.0049)]
    assert geo.simplify(straight, 5.0) == [straight[0], straight[-1]]
    assert geo.simplify(corner, 5.0) == [straight[0], straight[-1], corner[-1]]
    assert geo.simplify(straight[:2], 5.0) == straight[:2]


def test_area_cells_are_h3_resolution_8_with_their_neighbours() -> None:
    cell = geo.area_cell((48.8566, 2.3522))
    assert geo.is_area_cell(cell)
    assert not geo.is_area_cell("not a cell")
    assert not geo.is_area_cell("8029fffffffffff")
    ring = geo.neighbourhood(cell)
    assert len(ring) == 7
    assert cell in ring
