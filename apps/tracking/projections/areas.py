"""Area activity: distinct visitors per H3 resolution-8 cell and hour ("popular near me").

Each (cell, hour, user) is counted once (AreaVisitor), which is also how a deleted user is
taken back out of the counts: forgetting decrements their cells' hours and drops counts left
at zero, so no cell only they visited stays behind.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from apps.tracking.domain import geo
from apps.tracking.domain.trips import POINTS_RECORDED
from apps.tracking.models import AreaCount, AreaVisitor
from apps.tracking.projections.common import moment, rows_of, user_of_subject
from cleave.eventstore import Projection, RecordedEvent

Key = tuple[str, datetime, int]  # cell, hour, user


def hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


class AreaProjection(Projection):
    name = "tracking.areas"
    categories = ("tracking.device",)
    types = (POINTS_RECORDED,)
    read_models = (AreaVisitor, AreaCount)

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        wanted: set[Key] = set()
        for event in events:
            user_id = int(event.data["user_id"])
            for row in rows_of(event):
                wanted.add((geo.area_cell((row[1], row[2])), hour_of(moment(row[0])), user_id))
        if not wanted:
            return
        known = set(
            AreaVisitor.objects.using(self.alias)
            .filter(
                user_id__in={k[2] for k in wanted},
                cell__in={k[0] for k in wanted},
                hour__in={k[1] for k in wanted},
            )
            .values_list("cell", "hour", "user_id")
        )
        new = sorted(wanted - known)
        AreaVisitor.objects.using(self.alias).bulk_create(
            [AreaVisitor(cell=cell, hour=hour, user_id=user) for cell, hour, user in new]
        )
        self._add(Counter((cell, hour) for cell, hour, _ in new))

    def _add(self, increments: Counter[tuple[str, datetime]]) -> None:
        if not increments:
            return
        counts = {
            (c.cell, c.hour): c
            for c in AreaCount.objects.using(self.alias).filter(
                cell__in={k[0] for k in increments}, hour__in={k[1] for k in increments}
            )
        }
        created = []
        for (cell, hour), n in sorted(increments.items()):
            count = counts.get((cell, hour))
            if count is None:
                created.append(AreaCount(cell=cell, hour=hour, visitors=n))
            else:
                count.visitors += n
                count.save(using=self.alias, update_fields=("visitors",))
        AreaCount.objects.using(self.alias).bulk_create(created)

    def forget(self, subject: str) -> None:
        user_id = user_of_subject(subject)
        if user_id is None:
            return
        visitors = AreaVisitor.objects.using(self.alias).filter(user_id=user_id)
        for cell, hour in visitors.values_list("cell", "hour"):
            count = AreaCount.objects.using(self.alias).filter(cell=cell, hour=hour).first()
            if count is not None and count.visitors <= 1:
                count.delete(using=self.alias)
            elif count is not None:
                count.visitors -= 1
                count.save(using=self.alias, update_fields=("visitors",))
        visitors.delete()
