"""Visits: dwell inside the geofences staff define. A user inside a circle for the dwell time
has entered it (`GeofenceEntered`); the first point outside after that is the exit
(`GeofenceExited`). Points are taken in time order per event; a point older than the last one
seen for that user and geofence (a late upload) does not move the presence back.

Integration events carry ids and times, never a coordinate. A visit's id, and the events' ids,
derive from the facts (user, geofence, entry time: uuid5), so a rebuild gives every visit the
id it had and publishes nothing twice (services.publishing.publish_once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from apps.tracking.config import tracking_setting
from apps.tracking.domain import geo
from apps.tracking.domain.trips import POINTS_RECORDED
from apps.tracking.models import Geofence, GeofencePresence, Visit
from apps.tracking.projections.common import moment, rows_of, user_of_subject
from apps.tracking.services.publishing import fact_id, publish_once
from cleave.eventstore import Projection, RecordedEvent
from contracts.tracking import GeofenceEntered, GeofenceExited


class VisitProjection(Projection):
    name = "tracking.visits"
    categories = ("tracking.device",)
    types = (POINTS_RECORDED,)
    read_models = (GeofencePresence, Visit)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        fences = [_Fence(fence) for fence in Geofence.objects.using(self.alias).filter(active=True)]
        if not fences:
            return
        users = {int(event.data["user_id"]) for event in events}
        presence = {
            (p.user_id, p.geofence_id): p
            for p in GeofencePresence.objects.using(self.alias).filter(user_id__in=users)
        }
        dwell = timedelta(seconds=tracking_setting("CLEAVE_TRACKING_VISIT_DWELL_SECONDS"))
        # Presence rows change with nearly every point (last_seen_at): written once per batch,
        # not once per point and fence (that was ~550 points/s in bench/tracking's rebuild).
        changed: dict[tuple[int, int], GeofencePresence] = {}
        for event in events:
            user_id = int(event.data["user_id"])
            for row in sorted(rows_of(event), key=lambda r: r[0]):
                at, lat, lon = moment(row[0]), row[1], row[2]
                for fence in fences:
                    key = (user_id, fence.pk)
                    inside = fence.contains(lat, lon)
                    if not inside and key not in presence:
                        continue  # presence rows exist only for fences a user has been in
                    if self._step(presence, user_id, fence.pk, at, inside=inside, dwell=dwell):
                        changed[key] = presence[key]
        rows = GeofencePresence.objects.using(self.alias)
        rows.bulk_create([state for state in changed.values() if state.pk is None])
        rows.bulk_update(
            [state for state in changed.values() if state.pk is not None],
            ["last_seen_at", "inside_since", "visit_id"],
            batch_size=500,
        )

    def _step(
        self,
        presence: dict[tuple[int, int], GeofencePresence],
        user_id: int,
        geofence_id: int,
        at: datetime,
        *,
        inside: bool,
        dwell: timedelta,
    ) -> bool:
        """Move the user's presence at the fence to `at`; whether it changed (to be saved)."""
        state = presence.get((user_id, geofence_id))
        if state is None:
            if not inside:
                return False  # presence rows exist only for fences a user has been in
            state = GeofencePresence(user_id=user_id, geofence_id=geofence_id, last_seen_at=at)
            presence[(user_id, geofence_id)] = state
        elif at <= state.last_seen_at:
            return False  # a late point: the presence has moved past it
        state.last_seen_at = at
        since = state.inside_since
        if inside and since is None:
            state.inside_since = at
        elif inside and since is not None and not state.visit_id and at - since >= dwell:
            visit = Visit.objects.using(self.alias).create(
                visit_id=str(fact_id("visit", user_id, geofence_id, since.isoformat())),
                user_id=user_id,
                geofence_id=geofence_id,
                entered_at=since,
            )
            state.visit_id = visit.visit_id
            publish_once(_entered(visit))
        elif not inside and state.inside_since is not None:
            if state.visit_id:
                visit = Visit.objects.using(self.alias).get(visit_id=state.visit_id)
                visit.exited_at = at
                visit.save(using=self.alias, update_fields=("exited_at",))
                publish_once(_exited(visit))
            state.inside_since, state.visit_id = None, ""
        return True

    def forget(self, subject: str) -> None:
        user_id = user_of_subject(subject)
        if user_id is not None:
            GeofencePresence.objects.using(self.alias).filter(user_id=user_id).delete()
            Visit.objects.using(self.alias).filter(user_id=user_id).delete()


class _Fence:
    """A geofence with a bounding box around its circle: most points are far from most
    fences, and a comparison of degrees rejects them before the haversine."""

    def __init__(self, fence: Geofence) -> None:
        self.pk, self.centre, self.radius_m = fence.pk, (fence.lat, fence.lon), fence.radius_m
        # Degrees the radius spans, with a margin (the box must hold the whole circle); no
        # box near the poles or the antimeridian, where degrees of longitude misbehave.
        self.dlat = math.degrees(fence.radius_m / geo.EARTH_RADIUS_M) * 1.01
        polar = abs(fence.lat) + self.dlat >= 85
        self.dlon = 0.0 if polar else self.dlat / math.cos(math.radians(abs(fence.lat) + self.dlat))
        self.boxed = not polar and abs(fence.lon) + self.dlon < 180

    def contains(self, lat: float, lon: float) -> bool:
        if self.boxed and (
            abs(lat - self.centre[0]) > self.dlat or abs(lon - self.centre[1]) > self.dlon
        ):
            return False
        return geo.inside_circle((lat, lon), self.centre, self.radius_m)


def _entered(visit: Visit) -> GeofenceEntered:
    return GeofenceEntered(
        event_id=fact_id("entered", visit.visit_id),
        aggregate_id=visit.visit_id,
        visit_id=visit.visit_id,
        geofence_id=visit.geofence_id,
        user_id=visit.user_id,
        entered_at=visit.entered_at,
    )


def _exited(visit: Visit) -> GeofenceExited:
    exited_at = visit.exited_at or visit.entered_at
    return GeofenceExited(
        event_id=fact_id("exited", visit.visit_id),
        aggregate_id=visit.visit_id,
        visit_id=visit.visit_id,
        geofence_id=visit.geofence_id,
        user_id=visit.user_id,
        entered_at=visit.entered_at,
        exited_at=exited_at,
        dwell_seconds=(exited_at - visit.entered_at).total_seconds(),
    )
