"""Trips: distance (haversine over the points by time), duration and a simplified path
(Douglas-Peucker), from the device streams. An ended trip is published as `TripEnded`.

Late points join a trip already ended: its figures are recomputed, and `TripEnded` is not sent
again. The integration event's id is derived from the trip (uuid5), so a rebuild that applies
the same end again does not publish it twice (services.publishing.publish_once).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.tracking.domain import geo
from apps.tracking.domain.trips import (
    POINTS_RECORDED,
    TRIP_ENDED,
    TRIP_EVENTS,
    TRIP_PAUSED,
    TRIP_STARTED,
)
from apps.tracking.models import Trip
from apps.tracking.projections.common import moment, rows_of, user_of_subject
from apps.tracking.services.publishing import fact_id, publish_once
from cleave.eventstore import Projection, RecordedEvent
from contracts.tracking import TripEnded

PATH_TOLERANCE_M = 10.0  # a path drawn on a phone's map: 10 m is below what a finger sees


class TripProjection(Projection):
    name = "tracking.trips"
    categories = ("tracking.device",)
    types = TRIP_EVENTS
    read_models = (Trip,)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        wanted = {str(event.data["trip_id"]) for event in events}
        trips = {t.trip_id: t for t in Trip.objects.using(self.alias).filter(trip_id__in=wanted)}
        changed: set[str] = set()
        # Trips whose points moved since their figures were computed: the distance and the
        # simplified path go over the whole track, so they are computed once per batch (and
        # before a TripEnded is published), not after every event — a rebuild of long trips
        # was quadratic in Python (bench/tracking).
        stale: set[str] = set()
        for event in events:
            trip = self._apply_one(event, trips, stale)
            if trip is not None:
                changed.add(trip.trip_id)
        for trip_id in sorted(changed):
            if trip_id in stale:
                _figures(trips[trip_id])
            trips[trip_id].save(using=self.alias)

    def _apply_one(
        self, event: RecordedEvent, trips: dict[str, Trip], stale: set[str]
    ) -> Trip | None:
        data = event.data
        trip_id = str(data["trip_id"])
        if event.type == TRIP_STARTED:
            started = moment(data["started_at"])
            trips[trip_id] = Trip(
                trip_id=trip_id,
                user_id=int(data["user_id"]),
                status="active",
                started_at=started,
                last_point_at=started,
            )
            return trips[trip_id]
        trip = trips.get(trip_id)
        if trip is None:
            return None  # its start was forgotten (a shredded subject): nothing to show
        if event.type == POINTS_RECORDED:
            last = trip.last_point_at
            _merge(trip, rows_of(event))
            stale.add(trip_id)
            if trip.status == "paused" and trip.last_point_at > last:
                trip.status = "active"  # newer points resume it; a late upload does not
        elif event.type == TRIP_PAUSED and trip.status == "active":
            trip.status = "paused"
        elif event.type == TRIP_ENDED and trip.status != "ended":
            trip.status, trip.end_reason = "ended", str(data["reason"])
            trip.ended_at = max(moment(data["ended_at"]), trip.last_point_at)
            if trip_id in stale:
                _figures(trip)
                stale.discard(trip_id)
            publish_once(_ended_event(trip))
        return trip

    def forget(self, subject: str) -> None:
        user_id = user_of_subject(subject)
        if user_id is not None:
            Trip.objects.using(self.alias).filter(user_id=user_id).delete()


def _merge(trip: Trip, rows: Sequence[list[Any]]) -> None:
    """Add points (any order, repeats by time dropped) and move the trip's times; its
    distance and path wait for `_figures`."""
    by_time = {point[0]: point for point in trip.track}
    for row in rows:
        by_time.setdefault(row[0], [row[0], row[1], row[2]])
    track = [by_time[t] for t in sorted(by_time)]
    trip.track = track
    trip.point_count = len(track)
    trip.started_at = min(trip.started_at, moment(track[0][0]))
    trip.last_point_at = moment(track[-1][0])
    if trip.ended_at is not None:
        trip.ended_at = max(trip.ended_at, trip.last_point_at)


def _figures(trip: Trip) -> None:
    """The distance and the simplified path of the trip's whole track."""
    path = [(point[1], point[2]) for point in trip.track]
    trip.distance_m = round(geo.path_length_m(path), 1)
    trip.path = [list(p) for p in geo.simplify(path, PATH_TOLERANCE_M)]


def _ended_event(trip: Trip) -> TripEnded:
    ended_at = trip.ended_at or trip.last_point_at
    return TripEnded(
        event_id=fact_id("trip-ended", trip.trip_id),
        aggregate_id=trip.trip_id,
        trip_id=trip.trip_id,
        user_id=trip.user_id,
        started_at=trip.started_at,
        ended_at=ended_at,
        duration_seconds=max(0.0, (ended_at - trip.started_at).total_seconds()),
        distance_m=trip.distance_m,
        point_count=trip.point_count,
        reason=trip.end_reason,
    )
