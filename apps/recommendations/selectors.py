"""recommendations's reads: what the ranking needs, a handful of indexed queries per list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db.models import Sum

from apps.recommendations.models import (
    AreaActivity,
    CoPurchase,
    Feedback,
    GeofenceCell,
    PlaceVisit,
    Show,
    Ticket,
)
from cleave.databases import database_for

DB = database_for("recommendations")


def shows_bought(*, user_id: int) -> set[int]:
    """The shows the user holds a ticket for (cancelled tickets do not count)."""
    rows = Ticket.objects.using(DB).filter(user_id=user_id, cancelled=False)
    return set(rows.values_list("show_id", flat=True).distinct())


def shows_dismissed(*, user_id: int) -> set[int]:
    rows = Feedback.objects.using(DB).filter(user_id=user_id, kind="dismiss")
    return set(rows.values_list("show_id", flat=True).distinct())


def co_purchases(*, show_ids: Iterable[int]) -> dict[int, int]:
    """Other show → users who bought it with any of `show_ids`, summed over them."""
    rows = (
        CoPurchase.objects.using(DB)
        .filter(show_id__in=list(show_ids), buyers__gt=0)
        .values("other_show_id")
        .annotate(total=Sum("buyers"))
    )
    return {row["other_show_id"]: int(row["total"]) for row in rows}


def place_cells(*, user_id: int, bought: Iterable[int]) -> set[str]:
    """The cells of the user's places: their visited geofences (where staff placed them) and
    the venues of the shows they bought."""
    geofences = PlaceVisit.objects.using(DB).filter(user_id=user_id).values("geofence_id")
    cells = set(
        GeofenceCell.objects.using(DB)
        .filter(geofence_id__in=geofences)
        .values_list("cell", flat=True)
    )
    venues = Show.objects.using(DB).filter(show_id__in=list(bought)).values_list("cell", flat=True)
    return cells | set(venues)


def shows_upcoming(
    *, now: datetime, show_ids: Iterable[int] | None = None, cells: Iterable[str] | None = None
) -> list[Show]:
    """Shows not started yet, among `show_ids` and/or in `cells` (both None: every one)."""
    rows = Show.objects.using(DB).filter(starts_at__gt=now)
    if show_ids is not None:
        rows = rows.filter(show_id__in=list(show_ids))
    if cells is not None:
        rows = rows.filter(cell__in=list(cells))
    return list(rows)


def shows_popular(*, now: datetime, limit: int) -> list[Show]:
    rows = Show.objects.using(DB).filter(starts_at__gt=now).order_by("-buyers", "starts_at")
    return list(rows[:limit])


def area_visitors(*, cells: Iterable[str], since: datetime) -> dict[str, int]:
    rows = (
        AreaActivity.objects.using(DB)
        .filter(cell__in=list(cells), hour__gte=since)
        .values("cell")
        .annotate(total=Sum("visitors"))
    )
    return {row["cell"]: int(row["total"]) for row in rows}


def show_exists(*, show_id: int) -> bool:
    return Show.objects.using(DB).filter(show_id=show_id).exists()


def tickets_live() -> list[tuple[int, int]]:
    """(user, show) of every ticket not cancelled: the batch recompute's input."""
    rows = Ticket.objects.using(DB).filter(cancelled=False)
    return list(rows.values_list("user_id", "show_id").distinct())
