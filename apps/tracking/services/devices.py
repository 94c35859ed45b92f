"""Device streams: load a device's trip aggregate from its events, decide, append.

One stream per device (`tracking.device-<user id>-<device key>`); the device key is a hash of
the session id, so no credential-like value names a stream. Every event's subject is its user,
so the store encrypts it with that user's key (forgetting the user shreds them). The caller
holds the user's consent row locked, which serializes the user's writes; the expected version
still guards against any other writer.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from django.utils import timezone

from apps.tracking.config import tracking_setting
from apps.tracking.domain import trips
from apps.tracking.models import Device
from apps.tracking.selectors import DB
from cleave.eventstore import (
    NewEvent,
    WrongExpectedVersion,
    append,
    load_stream,
    save_snapshot,
)

CATEGORY = "tracking.device"
# Events between snapshots. Every upload folds the events since the last one, and each
# PointsRecorded holds a batch's points (up to 500) to decrypt and parse: at 100, a load read
# ~5,000 points on average (bench/tracking); a snapshot is a small state, saved in one UPDATE.
SNAPSHOT_EVERY = 10
APPEND_ATTEMPTS = 3


def device_stream(*, user_id: int, session_id: str) -> str:
    key = hashlib.sha256(session_id.encode()).hexdigest()[:20]
    return f"{CATEGORY}-{user_id}-{key}"


def subject_of(user_id: int) -> str:
    return f"user:{user_id}"


def to_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def device_load(stream: str) -> tuple[trips.DeviceState, int]:
    """The aggregate's state and the stream version it reflects (snapshot, then later events)."""
    snapshot, events = load_stream(stream)
    state = trips.DeviceState.from_dict(dict(snapshot.state)) if snapshot else trips.DeviceState()
    version = snapshot.stream_version if snapshot else 0
    for event in events:
        state = trips.evolve(state, event.type, dict(event.data))
        version = event.stream_version
    return state, version


def device_append(
    *, stream: str, user_id: int, state: trips.DeviceState, version: int, decided: trips.Decided
) -> trips.DeviceState:
    """Append what was decided at `version` (WrongExpectedVersion if another writer got there
    first), snapshot now and then, and keep the inactivity index. The caller's transaction."""
    if not decided:
        return state
    subject = subject_of(user_id)
    events = [NewEvent(type=kind, data=data, subject=subject) for kind, data in decided]
    new_version = append(stream, events, expected_version=version)
    for kind, data in decided:
        state = trips.evolve(state, kind, data)
    if new_version // SNAPSHOT_EVERY > version // SNAPSHOT_EVERY:
        save_snapshot(stream, new_version, state.to_dict(), subject=subject)
    # One upsert statement (update_or_create took a savepoint, a SELECT and a write).
    Device.objects.using(DB).bulk_create(
        [
            Device(
                stream=stream,
                user_id=user_id,
                trip_open=state.open is not None,
                last_point_at=from_ms(state.open.last) if state.open else None,
            )
        ],
        update_conflicts=True,
        unique_fields=["stream"],
        update_fields=["user_id", "trip_open", "last_point_at"],
    )
    return state


def device_record(
    *, user_id: int, session_id: str, batch_id: str, rows: Sequence[trips.PointRow]
) -> list[str]:
    """Record a batch's points (sorted rows) on the device's trips; the trips they went to."""
    if not rows:
        return []
    stream = device_stream(user_id=user_id, session_id=session_id)
    gap = round(tracking_setting("CLEAVE_TRACKING_TRIP_END_SECONDS") * 1000)
    for attempt in range(APPEND_ATTEMPTS):
        state, version = device_load(stream)
        decided = trips.decide_record(
            state,
            rows,
            batch_id=batch_id,
            user_id=user_id,
            end_gap_ms=gap,
            new_trip_id=lambda: str(uuid.uuid4()),
        )
        try:
            # No savepoint: the store reports a stale version before it writes anything, and
            # leaves the transaction usable (`cleave.eventstore.append`).
            device_append(
                stream=stream, user_id=user_id, state=state, version=version, decided=decided
            )
        except WrongExpectedVersion:
            if attempt == APPEND_ATTEMPTS - 1:
                raise
            continue
        return [data["trip_id"] for kind, data in decided if kind == trips.POINTS_RECORDED]
    raise AssertionError("unreachable")  # pragma: no cover


def device_record_actions(
    *, user_id: int, session_id: str, batch_id: str, actions: list[list[object]]
) -> None:
    """A batch's actions: one event on the device's stream (they do not move trips)."""
    if not actions:
        return
    stream = device_stream(user_id=user_id, session_id=session_id)
    data = {"batch_id": batch_id, "user_id": user_id, "actions": actions}
    event = NewEvent(type=trips.ACTIONS_RECORDED, data=data, subject=subject_of(user_id))
    append(stream, [event], expected_version=None)


def device_check_inactivity(*, stream: str, user_id: int, reason: str | None = None) -> bool:
    """Pause or end the device's open trip if it has been idle (or end it now, for `reason`).
    The caller holds the user's consent row. True if something was appended."""
    state, version = device_load(stream)
    if reason is not None:
        decided: trips.Decided = (
            [(trips.TRIP_ENDED, trips.ended(state.open.trip_id, user_id, state.open.last, reason))]
            if state.open
            else []
        )
    else:
        decided = trips.decide_inactivity(
            state,
            now_ms=to_ms(timezone.now()),
            user_id=user_id,
            pause_ms=round(tracking_setting("CLEAVE_TRACKING_PAUSE_SECONDS") * 1000),
            end_ms=round(tracking_setting("CLEAVE_TRACKING_TRIP_END_SECONDS") * 1000),
        )
    device_append(stream=stream, user_id=user_id, state=state, version=version, decided=decided)
    return bool(decided)


def devices_end_trips(*, user_id: int, reason: str) -> None:
    """End every open trip of the user now (consent revoked). The caller's transaction."""
    streams = Device.objects.using(DB).filter(user_id=user_id, trip_open=True)
    for stream in streams.values_list("stream", flat=True):
        device_check_inactivity(stream=stream, user_id=user_id, reason=reason)
