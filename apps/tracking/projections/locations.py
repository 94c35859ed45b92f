"""Last known location per user: the newest point by time (late uploads do not move it back)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.tracking.domain.trips import POINTS_RECORDED
from apps.tracking.models import LastLocation
from apps.tracking.projections.common import moment, rows_of, user_of_subject
from cleave.eventstore import Projection, RecordedEvent


class LastLocationProjection(Projection):
    name = "tracking.last_location"
    categories = ("tracking.device",)
    types = (POINTS_RECORDED,)
    read_models = (LastLocation,)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        newest: dict[int, tuple[list[Any], str]] = {}
        for event in events:
            user_id = int(event.data["user_id"])
            for row in rows_of(event):
                if user_id not in newest or row[0] > newest[user_id][0][0]:
                    newest[user_id] = (row, str(event.data["trip_id"]))
        if not newest:
            return
        stored = {
            location.user_id: location
            for location in LastLocation.objects.using(self.alias).filter(user_id__in=newest)
        }
        for user_id, (row, trip_id) in newest.items():
            fields = {
                "t": moment(row[0]),
                "lat": row[1],
                "lon": row[2],
                "accuracy": row[3],
                "trip_id": trip_id,
            }
            location = stored.get(user_id)
            if location is None:
                LastLocation.objects.using(self.alias).create(user_id=user_id, **fields)
            elif fields["t"] > location.t:
                for name, value in fields.items():
                    setattr(location, name, value)
                location.save(using=self.alias, update_fields=list(fields))

    def forget(self, subject: str) -> None:
        user_id = user_of_subject(subject)
        if user_id is not None:
            LastLocation.objects.using(self.alias).filter(user_id=user_id).delete()
