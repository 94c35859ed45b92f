"""An uploaded batch, item by item: what is kept, what is rejected and why.

Phones record offline and upload late, so a batch is judged per item: a point with a latitude
out of range is rejected with its index, field and code, and the others are kept. Errors never
echo the rejected value (it may be a coordinate, and responses and the batch ledger keep them).
The device's clock is corrected by the skew between its `device_time` and the server's clock,
bounded by `Limits.max_skew`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

ItemKind = Literal["points", "actions"]
ACTIVITIES = frozenset({"still", "walking", "running", "cycling", "in_vehicle", "unknown"})
MAX_ACCURACY_M = 5000.0  # a fix worse than 5 km says nothing about where the phone is
MAX_SPEED_MS = 150.0  # ~540 km/h: faster is a GPS glitch, not a phone on the ground
MAX_KIND_LENGTH = 64
MAX_ACTION_DATA_KEYS = 32
# Skews within a request's latency are noise: the clocks are taken to agree.
SKEW_NOISE = timedelta(seconds=2)


@dataclass(frozen=True)
class Limits:
    max_skew: timedelta
    future_tolerance: timedelta
    max_age: timedelta


@dataclass(frozen=True)
class ItemError:
    item: ItemKind
    index: int
    field: str
    code: str

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "index": self.index, "field": self.field, "code": self.code}


@dataclass(frozen=True)
class Point:
    t: datetime  # corrected for the device's skew, UTC
    lat: float
    lon: float
    accuracy: float
    speed: float | None = None
    heading: float | None = None
    activity: str | None = None


@dataclass(frozen=True)
class Action:
    t: datetime
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class Checked:
    """A batch after validation: the kept items (points sorted by time) and the rejections."""

    skew: timedelta
    points: list[Point] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with its offset, or None (naive times are ambiguous)."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def estimate_skew(*, device_time: datetime, received_at: datetime, limit: timedelta) -> timedelta:
    """How far the device's clock is behind the server's, clamped to ±limit (upload latency
    makes it a slight overestimate; below SKEW_NOISE it is taken as none)."""
    skew = received_at - device_time
    if abs(skew) < SKEW_NOISE:
        return timedelta(0)
    return max(-limit, min(limit, skew))


def _number(value: Any) -> float | None:
    # bool is an int to Python, not a number to a client; NaN and infinities are not positions.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Item:
    """Collects the errors of one item while its fields are read."""

    def __init__(self, kind: ItemKind, index: int, raw: Mapping[str, Any]) -> None:
        self.kind, self.index, self.raw = kind, index, raw
        self.errors: list[ItemError] = []

    def fail(self, name: str, code: str) -> None:
        self.errors.append(ItemError(self.kind, self.index, name, code))

    def number(
        self, name: str, low: float, high: float, *, required: bool = True, low_open: bool = False
    ) -> float | None:
        if name not in self.raw or self.raw[name] is None:
            if required:
                self.fail(name, "required")
            return None
        number = _number(self.raw[name])
        if number is None:
            self.fail(name, "invalid_type")
            return None
        if number < low or number > high or (low_open and number == low):
            self.fail(name, "out_of_range")
            return None
        return number

    def time(self, *, skew: timedelta, now: datetime, limits: Limits) -> datetime | None:
        if "t" not in self.raw:
            self.fail("t", "required")
            return None
        moment = parse_time(self.raw["t"])
        if moment is None:
            self.fail("t", "invalid_time")
            return None
        corrected = moment + skew
        if corrected > now + limits.future_tolerance:
            self.fail("t", "in_future")
            return None
        if corrected < now - limits.max_age:
            self.fail("t", "too_old")
            return None
        return corrected


def check_point(
    raw: Any, index: int, *, skew: timedelta, now: datetime, limits: Limits
) -> Point | list[ItemError]:
    if not isinstance(raw, Mapping):
        return [ItemError("points", index, "", "not_an_object")]
    item = _Item("points", index, raw)
    t = item.time(skew=skew, now=now, limits=limits)
    lat = item.number("lat", -90.0, 90.0)
    lon = item.number("lon", -180.0, 180.0)
    accuracy = item.number("accuracy", 0.0, MAX_ACCURACY_M, low_open=True)
    speed = item.number("speed", 0.0, MAX_SPEED_MS, required=False)
    heading = item.number("heading", 0.0, 360.0, required=False)
    activity = raw.get("activity")
    if activity is not None and (not isinstance(activity, str) or activity not in ACTIVITIES):
        item.fail("activity", "unknown_value")
    unknown = sorted(set(raw) - {"t", "lat", "lon", "accuracy", "speed", "heading", "activity"})
    for name in unknown[:1]:  # one is enough to tell the client its schema is off
        item.fail(str(name)[:32], "unknown_field")
    if item.errors or t is None or lat is None or lon is None or accuracy is None:
        return item.errors
    return Point(t, lat, lon, accuracy, speed, heading % 360.0 if heading else heading, activity)


def check_action(
    raw: Any, index: int, *, skew: timedelta, now: datetime, limits: Limits
) -> Action | list[ItemError]:
    if not isinstance(raw, Mapping):
        return [ItemError("actions", index, "", "not_an_object")]
    item = _Item("actions", index, raw)
    t = item.time(skew=skew, now=now, limits=limits)
    kind = raw.get("kind")
    if kind is None:
        item.fail("kind", "required")
    elif not isinstance(kind, str) or not 0 < len(kind) <= MAX_KIND_LENGTH:
        item.fail("kind", "invalid_type")
    data = raw.get("data", {})
    if not isinstance(data, Mapping):
        item.fail("data", "invalid_type")
    elif len(data) > MAX_ACTION_DATA_KEYS:
        item.fail("data", "too_large")
    if item.errors or t is None or not isinstance(kind, str) or not isinstance(data, Mapping):
        return item.errors
    return Action(t, kind, dict(data))


def check_batch(
    *,
    points: Sequence[Any],
    actions: Sequence[Any],
    device_time: datetime,
    received_at: datetime,
    limits: Limits,
) -> Checked:
    """Every item of a batch judged on its own; kept points in time order (late and
    out-of-order points are normal: the phone was offline)."""
    skew = estimate_skew(device_time=device_time, received_at=received_at, limit=limits.max_skew)
    checked = Checked(skew=skew)
    for index, raw in enumerate(points):
        point = check_point(raw, index, skew=skew, now=received_at, limits=limits)
        if isinstance(point, Point):
            checked.points.append(point)
        else:
            checked.errors.extend(point)
    for index, raw in enumerate(actions):
        action = check_action(raw, index, skew=skew, now=received_at, limits=limits)
        if isinstance(action, Action):
            checked.actions.append(action)
        else:
            checked.errors.extend(action)
    checked.points.sort(key=lambda point: point.t)
    return checked
