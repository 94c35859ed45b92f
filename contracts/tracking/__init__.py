"""What tracking publishes: consent as a call, and integration events of trips, visits and
area activity. Events carry ids, geofence ids and H3 cells, never a coordinate: outbox rows
are not encrypted and are kept for days (docs/tracking.md, privacy). Other contexts never read
tracking's event store."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, Event, call


class ConsentGet(ContractModel):
    user_id: int = Field(gt=0)


class ConsentState(ContractModel):
    user_id: int
    granted: bool


class TrackingService(Protocol):
    @call(idempotent=True)
    def consent_get(self, query: ConsentGet) -> ConsentState: ...


class TripEnded(Event):
    """A trip ended (a gap, inactivity, consent revoked, or a late upload's own trip)."""

    event_type: ClassVar[str] = "tracking.trip_ended"
    trip_id: str
    user_id: int
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    distance_m: float
    point_count: int
    reason: str


class GeofenceEntered(Event):
    """The user dwelt inside a geofence long enough to count as a visit."""

    event_type: ClassVar[str] = "tracking.geofence_entered"
    visit_id: str
    geofence_id: int
    user_id: int
    entered_at: datetime


class GeofenceExited(Event):
    event_type: ClassVar[str] = "tracking.geofence_exited"
    visit_id: str
    geofence_id: int
    user_id: int
    entered_at: datetime
    exited_at: datetime
    dwell_seconds: float


class AreaActivity(Event):
    """Distinct visitors of an H3 resolution-8 cell in one past hour; sent only from
    CLEAVE_TRACKING_AREA_MIN_VISITORS visitors on (a cell of one visitor would place them)."""

    event_type: ClassVar[str] = "tracking.area_activity"
    cell: str
    hour: datetime
    visitors: int


TRACKING = Contract(
    context="tracking",
    version="1.0",
    service=TrackingService,
    events=(AreaActivity, GeofenceEntered, GeofenceExited, TripEnded),
)

__all__ = [
    "TRACKING",
    "AreaActivity",
    "ConsentGet",
    "ConsentState",
    "GeofenceEntered",
    "GeofenceExited",
    "TrackingService",
    "TripEnded",
]
