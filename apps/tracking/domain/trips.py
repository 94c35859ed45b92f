"""The trip aggregate of one device: its state rebuilt from its own events, and its decisions.

A device's stream holds `TripStarted`, `PointsRecorded`, `TripPaused` and `TripEnded`. The
state says which trip is open and the time windows of recently closed ones, which is all a
decision needs: where a batch's points go (the open trip, a new trip after a gap, a recent trip
for a late upload, or a closed trip of their own when they are older than anything known) and
whether inactivity pauses or ends the open trip. Times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

TRIP_STARTED = "tracking.TripStarted"
POINTS_RECORDED = "tracking.PointsRecorded"
TRIP_PAUSED = "tracking.TripPaused"
TRIP_ENDED = "tracking.TripEnded"
ACTIONS_RECORDED = "tracking.ActionsRecorded"
TRIP_EVENTS = (TRIP_STARTED, POINTS_RECORDED, TRIP_PAUSED, TRIP_ENDED)
RECENT_TRIPS = 20  # closed windows a late upload can still join

# [t_ms, lat, lon, accuracy, speed, heading, activity]: one compact row per point.
PointRow = list[Any]
Decided = list[tuple[str, dict[str, Any]]]


@dataclass(frozen=True)
class Window:
    trip_id: str
    start: int
    last: int
    paused: bool = False


@dataclass(frozen=True)
class DeviceState:
    open: Window | None = None
    recent: tuple[Window, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        def dump(w: Window) -> list[Any]:
            return [w.trip_id, w.start, w.last, w.paused]

        return {
            "open": dump(self.open) if self.open else None,
            "recent": list(map(dump, self.recent)),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceState:
        open_ = data.get("open")
        return cls(
            open=Window(*open_) if open_ else None,
            recent=tuple(Window(*w) for w in data.get("recent", [])),
        )


def _stretch(window: Window, rows: Sequence[PointRow]) -> Window:
    times = [row[0] for row in rows]
    return replace(window, start=min(window.start, *times), last=max(window.last, *times))


def evolve(state: DeviceState, event_type: str, data: dict[str, Any]) -> DeviceState:
    """The state after one event (events the aggregate does not know leave it as it is)."""
    trip_id = str(data.get("trip_id"))
    if event_type == TRIP_STARTED:
        window = Window(trip_id, data["started_at"], data["started_at"])
        if data.get("late"):
            return replace(state, recent=(*state.recent, window)[-RECENT_TRIPS:])
        return replace(state, open=window)
    if event_type == POINTS_RECORDED and data["points"]:
        if state.open and state.open.trip_id == trip_id:
            stretched = _stretch(state.open, data["points"])
            # Newer points resume a paused trip; a late upload of older ones does not.
            moved = stretched.last > state.open.last
            return replace(state, open=replace(stretched, paused=state.open.paused and not moved))
        recent = tuple(
            _stretch(w, data["points"]) if w.trip_id == trip_id else w for w in state.recent
        )
        return replace(state, recent=recent)
    if event_type == TRIP_PAUSED and state.open and state.open.trip_id == trip_id:
        return replace(state, open=replace(state.open, paused=True))
    if event_type == TRIP_ENDED and state.open and state.open.trip_id == trip_id:
        closed = replace(state.open, paused=False)
        return DeviceState(open=None, recent=(*state.recent, closed)[-RECENT_TRIPS:])
    return state


def decide_record(
    state: DeviceState,
    rows: Sequence[PointRow],
    *,
    batch_id: str,
    user_id: int,
    end_gap_ms: int,
    new_trip_id: Callable[[], str],
) -> Decided:
    """The events that record a batch's points (sorted by time): one `PointsRecorded` per trip
    they fall in, and the trips started or ended on the way. Runs of points further apart than
    `end_gap_ms` are separate trips."""
    decided: Decided = []
    per_trip: dict[str, list[PointRow]] = {}
    late: list[str] = []
    for run in _runs(rows, end_gap_ms):
        structural, trip_id, is_late = _place(state, run, end_gap_ms, user_id, new_trip_id)
        for event_type, data in structural:
            state = evolve(state, event_type, data)
        decided += structural
        if is_late:
            late.append(trip_id)
        if trip_id not in per_trip:
            per_trip[trip_id] = []
            data = {"trip_id": trip_id, "batch_id": batch_id, "user_id": user_id}
            decided.append((POINTS_RECORDED, {**data, "points": per_trip[trip_id]}))
        per_trip[trip_id].extend(run)
        state = evolve(state, POINTS_RECORDED, {"trip_id": trip_id, "points": run})
    for trip_id in late:  # older than anything known: a trip of its own, closed at once
        ended_at = max(row[0] for row in per_trip[trip_id])
        decided.append((TRIP_ENDED, ended(trip_id, user_id, ended_at, "late")))
    for rows_of_trip in per_trip.values():
        rows_of_trip.sort(key=lambda row: row[0])
    return decided


def ended(trip_id: str, user_id: int, ended_at: int, reason: str) -> dict[str, Any]:
    return {"trip_id": trip_id, "user_id": user_id, "ended_at": ended_at, "reason": reason}


def _place(
    state: DeviceState,
    run: list[PointRow],
    gap: int,
    user_id: int,
    new_trip_id: Callable[[], str],
) -> tuple[Decided, str, bool]:
    """Which trip a run of points joins (and the events that start or end trips for it)."""
    first = run[0][0]
    open_ = state.open
    if open_ and open_.start - gap <= first <= open_.last + gap:
        return [], open_.trip_id, False
    for window in reversed(state.recent):
        if window.start - gap <= first <= window.last + gap:
            return [], window.trip_id, False
    newest = open_.last if open_ else max((w.last for w in state.recent), default=None)
    if newest is None or first > newest:
        structural: Decided = []
        if open_ is not None:
            structural.append((TRIP_ENDED, ended(open_.trip_id, user_id, open_.last, "gap")))
        trip_id = new_trip_id()
        structural.append((TRIP_STARTED, _started(trip_id, user_id, first, late=False)))
        return structural, trip_id, False
    trip_id = new_trip_id()
    return [(TRIP_STARTED, _started(trip_id, user_id, first, late=True))], trip_id, True


def _started(trip_id: str, user_id: int, started_at: int, *, late: bool) -> dict[str, Any]:
    return {"trip_id": trip_id, "user_id": user_id, "started_at": started_at, "late": late}


def _runs(rows: Sequence[PointRow], gap_ms: int) -> list[list[PointRow]]:
    runs: list[list[PointRow]] = []
    for row in rows:
        if runs and row[0] - runs[-1][-1][0] <= gap_ms:
            runs[-1].append(row)
        else:
            runs.append([row])
    return runs


def decide_inactivity(
    state: DeviceState, *, now_ms: int, user_id: int, pause_ms: int, end_ms: int
) -> Decided:
    """Pause the open trip after `pause_ms` without points, end it after `end_ms`."""
    open_ = state.open
    if open_ is None:
        return []
    idle = now_ms - open_.last
    if idle >= end_ms:
        return [(TRIP_ENDED, ended(open_.trip_id, user_id, open_.last, "inactive"))]
    if idle >= pause_ms and not open_.paused:
        return [(TRIP_PAUSED, {"trip_id": open_.trip_id, "user_id": user_id, "at": now_ms})]
    return []
