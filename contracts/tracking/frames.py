"""tracking on `/ws/v1`: the `tracking.batch` frame (an upload, as `POST
/api/v1/tracking/batches`) and its ack, and `location.updated` on `location:<user id>` streams.
Registered by apps.tracking.realtime."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from cleave.realtime.frames import AckFrame, ClientFrame

MAX_ITEMS = 500  # points and actions of one batch together
BatchId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ItemErrorData(Payload):
    """One rejected item: which list, its index, the field at fault and why (never its value)."""

    item: Literal["points", "actions"]
    index: int
    field: str
    code: str


class AcceptedCounts(Payload):
    points: int
    actions: int


class BatchResult(Payload):
    batch_id: str
    accepted: AcceptedCounts
    rejected: int
    errors: list[ItemErrorData]
    skew_seconds: float = Field(description="The device clock's correction that was applied.")
    trip_ids: list[str]
    replayed: bool = Field(description="True: this batch_id was recorded before; nothing added.")


class TrackingBatchFrame(ClientFrame):
    """Upload a batch of points and actions, as `POST /api/v1/tracking/batches`."""

    invalid_code: ClassVar[str] = "validation_error"

    type: Literal["tracking.batch"]
    batch_id: BatchId
    # A string (frames are validated strictly, which takes no string for a datetime); the
    # handler parses it as REST does (RFC 3339 with an offset).
    device_time: Timestamp
    points: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)
    actions: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)


class TrackingBatchAck(AckFrame):
    result: BatchResult


class LocationUpdated(Payload):
    """`location.updated`: the sharer's newest point, to the recipients of an active share."""

    user_id: int
    t: Timestamp
    lat: float
    lon: float
    accuracy: float
