"""Numbered seats' reads and row locks (services.seats; each lock says: inside a transaction)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db.models import BooleanField, Count, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from apps.ticketing.models import Hold, Seat, Ticket
from cleave.databases import database_for

DB = database_for("ticketing")

__all__ = [
    "seat_map",
    "seat_violations",
    "seats_best_free_lock",
    "seats_named_free_lock",
    "seats_named_state",
    "seats_of_hold",
]


def _seat_free_now(now: datetime) -> Q:
    """Free, or in a hold past its expiry that no sweeper has expired yet (free to buyers)."""
    return Q(hold=None) | Q(hold__status=Hold.Status.ACTIVE, hold__expires_at__lte=now)


def seat_map(*, category_id: int) -> QuerySet[Seat]:
    """A category's seats with `available` (the API pages them best first). One query a page."""
    return (
        Seat.objects.using(DB)
        .filter(category_id=category_id)
        .annotate(
            available=ExpressionWrapper(_seat_free_now(timezone.now()), output_field=BooleanField())
        )
    )


def seats_named_state(
    *, category_id: int, seat_ids: list[int], now: datetime
) -> tuple[list[int], list[int]]:
    """Of the seats named: (those not in the category, those someone has now), sorted."""
    rows = dict(
        Seat.objects.using(DB)
        .filter(category_id=category_id, pk__in=seat_ids)
        .annotate(free=ExpressionWrapper(_seat_free_now(now), output_field=BooleanField()))
        .values_list("pk", "free")
    )
    unknown = sorted(set(seat_ids) - set(rows))
    return unknown, sorted(pk for pk, free in rows.items() if not free)


def seats_named_free_lock(*, category_id: int, seat_ids: list[int]) -> list[int]:
    """Lock those of the named seats that are free, in pk order, waiting for them (a buyer's
    pick in flight may roll back); their ids. The caller must hold a transaction."""
    return list(
        Seat.objects.using(DB)
        .select_for_update(no_key=True)
        .filter(category_id=category_id, pk__in=seat_ids, hold=None)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def seats_best_free_lock(*, category_id: int, limit: int) -> list[int]:
    """Lock up to `limit` free seats of the category, best first, skipping those other buyers
    have locked (SKIP LOCKED: nobody queues for the best seat); their ids. The caller must
    hold a transaction."""
    return list(
        Seat.objects.using(DB)
        .select_for_update(no_key=True, skip_locked=True)
        .filter(category_id=category_id, hold=None)
        .order_by("position")
        .values_list("pk", flat=True)[:limit]
    )


def seats_of_hold(*, hold_id: uuid.UUID) -> list[Seat]:
    """A hold's seats, best first (its tickets get them in this order)."""
    return list(Seat.objects.using(DB).filter(hold_id=hold_id).order_by("position"))


def seat_violations(*, category_id: int | None) -> list[str]:
    """Numbered categories: a seat kept by a hold that ended unsold, an active hold without
    exactly its quantity of seats, a converted one whose seats are not its valid tickets'."""
    seats = Seat.objects.using(DB).exclude(hold=None)
    holds = Hold.objects.using(DB).filter(category__numbered=True)
    tickets = Ticket.objects.using(DB).filter(category__numbered=True, status=Ticket.Status.VALID)
    if category_id is not None:
        seats = seats.filter(category_id=category_id)
        holds = holds.filter(category_id=category_id)
        tickets = tickets.filter(category_id=category_id)
    problems = [
        f"seat {pk} kept by {status} hold {hold_id}"
        for pk, hold_id, status in seats.exclude(
            hold__status__in=(Hold.Status.ACTIVE, Hold.Status.CONVERTED)
        ).values_list("pk", "hold_id", "hold__status")
    ]
    seated = dict(seats.values("hold_id").annotate(n=Count("id")).values_list("hold_id", "n"))
    for hold_id, quantity in holds.filter(status=Hold.Status.ACTIVE).values_list("pk", "quantity"):
        if seated.get(hold_id, 0) != quantity:
            problems.append(f"hold {hold_id} of {quantity} has {seated.get(hold_id, 0)} seats")
    sold: set[int] = set()
    for pk, seat_id, hold_id, seat_hold in tickets.values_list(
        "pk", "seat_id", "hold_id", "seat__hold_id"
    ):
        sold.add(seat_id)
        if seat_id is None or seat_hold != hold_id:
            problems.append(f"ticket {pk} seat {seat_id} kept by hold {seat_hold}, not {hold_id}")
    unsold = seats.filter(hold__status=Hold.Status.CONVERTED).exclude(pk__in=sold)
    problems += [
        f"seat {pk} kept by a sale without a valid ticket"
        for pk in unsold.values_list("pk", flat=True)
    ]
    return problems
