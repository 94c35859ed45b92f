"""How many seats a category has left: sold and held by a live hold are taken; a hold past its
expiry counts as free even before the sweeper gives its seats back. Each read is one statement,
so one snapshot: read apart, a hold expired by the sweeper between two reads would count
neither as stale nor as free."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import F, IntegerField, OuterRef, Subquery, Sum, Value
from django.db.models.expressions import Combinable
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.ticketing.models import CategoryShard, Hold, SeatCategory
from cleave.databases import database_for

DB = database_for("ticketing")


@dataclass(frozen=True)
class CategoryAvailability:
    id: int
    name: str
    price_cents: int
    currency: str
    capacity: int
    available: int
    numbered: bool


def _free_seats() -> Combinable:
    """A category's seats left, as an annotation: its shards' free seats plus those of its
    stale holds, each a correlated subquery (one statement with the categories)."""
    counters = (
        CategoryShard.objects.filter(category_id=OuterRef("pk"))
        .values("category_id")
        .annotate(free=Sum(F("capacity") - F("held") - F("sold")))
        .values("free")
    )
    stale = (
        Hold.objects.filter(
            category_id=OuterRef("pk"), status=Hold.Status.ACTIVE, expires_at__lte=timezone.now()
        )
        .values("category_id")
        .annotate(stale_seats=Sum("quantity"))
        .values("stale_seats")
    )
    zero = Value(0, output_field=IntegerField())
    return Coalesce(Subquery(counters, output_field=IntegerField()), zero) + Coalesce(
        Subquery(stale, output_field=IntegerField()), zero
    )


def categories_with_availability(*, show_id: int) -> list[CategoryAvailability]:
    """Each category of the show with its seats left, cheapest first. One query."""
    categories = (
        SeatCategory.objects.using(DB)
        .filter(show_id=show_id)
        .annotate(free=_free_seats())
        .order_by("price_cents", "id")
    )
    return [
        CategoryAvailability(
            id=c.pk,
            name=c.name,
            price_cents=c.price_cents,
            currency=c.currency,
            capacity=c.capacity,
            available=c.free,
            numbered=c.numbered,
        )
        for c in categories
    ]


def shows_available(*, show_ids: list[int]) -> dict[int, int]:
    """Seats left per show, over all its categories. One query."""
    totals: dict[int, int] = dict.fromkeys(show_ids, 0)
    rows = (
        SeatCategory.objects.using(DB)
        .filter(show_id__in=show_ids)
        .annotate(free=_free_seats())
        .values_list("show_id", "free")
    )
    for show_id, free in rows:
        totals[show_id] += free
    return totals


# The on-sale's hot read, in raw SQL: `hold_place` asks it before anything else, so a sold-out
# buyer costs one read (not a batch, two walks and a sweep: docs/ticketing.md), and the ORM's
# compile of the query above would cost more than the database takes to answer it.
_AVAILABLE = f"""
SELECT
    (SELECT COALESCE(SUM(capacity - held - sold), 0) FROM {CategoryShard._meta.db_table}
        WHERE category_id = %(category_id)s)
    + (SELECT COALESCE(SUM(quantity), 0) FROM {Hold._meta.db_table}
        WHERE category_id = %(category_id)s AND status = %(active)s AND expires_at <= %(now)s)
"""  # noqa: S608 - table names are the models' own, every value a bound parameter


def category_available(*, category_id: int) -> int:
    """The category's seats left (as categories_with_availability counts them)."""
    connection = connections[DB]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params: dict[str, Any] = {
        "category_id": category_id,
        "active": Hold.Status.ACTIVE.value,
        "now": now,
    }
    with connection.cursor() as cursor:
        cursor.execute(_AVAILABLE, params)
        (available,) = cursor.fetchone()
    return int(available)
