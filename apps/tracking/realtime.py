"""tracking on the socket: `tracking.batch` uploads, and `location:<user id>` streams readable
by the recipients of an active share (checked whenever a socket joins or resumes one)."""

from __future__ import annotations

from apps.tracking import selectors
from apps.tracking.domain.validation import parse_time
from apps.tracking.error_codes import BatchConflict, ConsentRequired
from apps.tracking.services.ingest import batch_ingest
from apps.tracking.services.shares import LOCATION_FAMILY, location_stream
from cleave.api import ID_MAX
from cleave.auth.principal import Principal
from cleave.errors import ValidationFailed
from cleave.eventstore import WrongExpectedVersion
from cleave.realtime import register_event, register_frame_handler, register_streams
from contracts.tracking.frames import (
    BatchResult,
    LocationUpdated,
    TrackingBatchAck,
    TrackingBatchFrame,
)


def _sharer_id(stream: str) -> int | None:
    """The id in "location:<id>", or None for anything a client made up."""
    _, _, raw = stream.partition(":")
    if not (raw.isascii() and raw.isdigit()):
        return None
    user_id = int(raw)
    return user_id if 0 < user_id <= ID_MAX else None


def _readable(principal: Principal, streams: list[str]) -> set[str]:
    wanted = {sharer: stream for stream in streams if (sharer := _sharer_id(stream))}
    own = {s for sharer, s in wanted.items() if sharer == principal.user_id}
    others = [sharer for sharer in wanted if sharer != principal.user_id]
    allowed = selectors.location_readable(reader_id=principal.user_id, sharer_ids=others)
    return own | {wanted[sharer] for sharer in allowed}


def _initial(principal: Principal) -> list[str]:
    return [
        location_stream(sharer)
        for sharer in selectors.location_sharers_for(reader_id=principal.user_id)
    ]


def _initial_many(principals: list[Principal]) -> dict[int, list[str]]:
    readers = [principal.user_id for principal in principals]
    found = selectors.location_sharers_for_many(reader_ids=readers)
    return {reader: [location_stream(sharer) for sharer in found[reader]] for reader in readers}


def _batch(principal: Principal, frame: TrackingBatchFrame) -> TrackingBatchAck:
    """`{"type": "tracking.batch", "id", "batch_id", "device_time", "points", "actions"}`."""
    device_time = parse_time(frame.device_time)
    if device_time is None:
        raise ValidationFailed(
            details=[
                {
                    "loc": ["device_time"],
                    "msg": "an RFC 3339 time with its offset",
                    "type": "datetime_parsing",
                }
            ]
        )
    result = batch_ingest(
        user_id=principal.user_id,
        session_id=principal.session_id,
        batch_id=frame.batch_id,
        device_time=device_time,
        points=frame.points,
        actions=frame.actions,
    )
    return TrackingBatchAck(result=BatchResult.model_validate(result))


def register() -> None:
    register_streams(
        LOCATION_FAMILY, initial=_initial, readable=_readable, initial_many=_initial_many
    )
    register_frame_handler(
        TrackingBatchFrame,
        _batch,
        ack=TrackingBatchAck,
        errors=(ValidationFailed, ConsentRequired, BatchConflict, WrongExpectedVersion),
    )
    register_event("location.updated", LocationUpdated, stream=LOCATION_FAMILY)
