"""tracking's request and response bodies (the API's In/Out schemas)."""

from __future__ import annotations

import datetime
from typing import Any, Self

from ninja import Schema
from pydantic import AwareDatetime, Field, model_validator

from cleave.api import Id, RequestSchema
from contracts.tracking.frames import MAX_ITEMS, BatchId


class ConsentIn(RequestSchema):
    granted: bool


class ConsentOut(Schema):
    granted: bool
    changed_at: datetime.datetime | None


class BatchIn(RequestSchema):
    """Points `{t, lat, lon, accuracy, speed?, heading?, activity?}` and actions `{t, kind,
    data}`; `t` and `device_time` are RFC 3339 with an offset. Invalid items are rejected one
    by one (see the result's `errors`), the others kept."""

    batch_id: BatchId
    device_time: AwareDatetime
    points: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)
    actions: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _at_most_max_items(self) -> Self:
        if len(self.points) + len(self.actions) > MAX_ITEMS:
            raise ValueError(f"at most {MAX_ITEMS} points and actions together")
        return self


class LocationOut(Schema):
    t: datetime.datetime
    lat: float
    lon: float
    accuracy: float
    trip_id: str


class TripOut(Schema):
    trip_id: str
    status: str
    started_at: datetime.datetime
    last_point_at: datetime.datetime
    ended_at: datetime.datetime | None
    end_reason: str
    point_count: int
    distance_m: float
    duration_seconds: float


class TripDetailOut(TripOut):
    path: list[list[float]] = Field(description="Simplified (Douglas-Peucker): [[lat, lon], …]")


class AreaCountOut(Schema):
    cell: str
    visitors: int


class AreasOut(Schema):
    cell: str
    since: datetime.datetime
    cells: list[AreaCountOut] = Field(description="The cell and its neighbours, sorted.")


class ShareCreateIn(RequestSchema):
    user_id: Id | None = None
    conversation_id: Id | None = None
    minutes: int = Field(ge=1, le=24 * 60)


class ShareOut(Schema):
    id: int
    user_id: int | None
    conversation_id: int | None
    created_at: datetime.datetime
    expires_at: datetime.datetime
    revoked_at: datetime.datetime | None
    stream: str

    @staticmethod
    def resolve_user_id(share: Any) -> int | None:
        recipient: int | None = share.recipient_id
        return recipient

    @staticmethod
    def resolve_stream(share: Any) -> str:
        return f"location:{share.sharer_id}"
