"""Numbered seats (docs/ticketing.md, "Numbered seats"): laying a category's seats out, and
giving a hold its seats or taking them back.

A numbered category keeps its counter shards (capacity == its seats): a hold takes its
quantity from the counters first (services.holds, unchanged), then its seats, in the same
transaction. The counters stay the no-oversell guarantee and the seats add which ones; the
seat column `hold` and the partial unique index on tickets make a seat held or sold once.

Why the counters first: they bound what buyers in flight may lock. Every buyer in flight has
taken its quantity from a counter row nobody else can change until it commits, so together
they hold at most the seats free when they took them; a buyer picking the best free seats
with SKIP LOCKED therefore finds enough that nobody else has locked (one lost statement
snapshot aside, which a second pick answers). Nobody waits for the best seat: buyers skip each
other's rows. Seats named by the buyer are locked in primary-key order and waited for (they
may be in a buyer's pick that rolls back), so two buyers naming the same seats never deadlock.
Everything that frees seats (release, expiry, void) changes the counters first too.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence

from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import (
    SeatCountMismatch,
    SeatLayoutInvalid,
    SeatNotInCategory,
    SeatTaken,
)
from apps.ticketing.models import Seat, SeatCategory
from cleave.databases import database_for

DB = database_for("ticketing")
MAX_SEATS = 20_000  # a category is a block of a hall; a stadium is several categories
ROW_MAX_LENGTH = Seat._meta.get_field("row").max_length or 8
NUMBER_MAX = 32_767  # PositiveSmallIntegerField
# Picks of the best seats a buyer tries: a second one answers the rare lost snapshot (seats
# freed by a commit after the pick's snapshot while another buyer took the ones it saw).
PICK_ATTEMPTS = 3

SeatSpec = tuple[str, int]


def seat_grid(*, rows: Sequence[str], per_row: int) -> list[SeatSpec]:
    """The seats of a simple hall: every row (best first) numbered 1..`per_row`."""
    return [(row, number) for row in rows for number in range(1, per_row + 1)]


def seats_validate(seats: Sequence[SeatSpec], *, capacity: int | None = None) -> list[SeatSpec]:
    """The layout cleaned (row labels stripped), in its order (best first); SeatLayoutInvalid
    with the reason and the first offending seat."""
    if not seats:
        raise SeatLayoutInvalid(details={"reason": "empty"})
    if len(seats) > MAX_SEATS:
        raise SeatLayoutInvalid(details={"reason": "too_many", "maximum": MAX_SEATS})
    cleaned: list[SeatSpec] = []
    seen: set[SeatSpec] = set()
    for row, number in seats:
        label = str(row).strip()
        if not label or len(label) > ROW_MAX_LENGTH:
            raise SeatLayoutInvalid(details={"reason": "bad_row", "seat": [row, number]})
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= NUMBER_MAX:
            raise SeatLayoutInvalid(details={"reason": "bad_number", "seat": [row, number]})
        if (label, number) in seen:
            raise SeatLayoutInvalid(details={"reason": "duplicate_seat", "seat": [label, number]})
        seen.add((label, number))
        cleaned.append((label, number))
    if capacity is not None and capacity != len(cleaned):
        raise SeatLayoutInvalid(
            details={"reason": "capacity_mismatch", "capacity": capacity, "seats": len(cleaned)}
        )
    return cleaned


def seats_create(*, category: SeatCategory, seats: Sequence[SeatSpec]) -> None:
    """Write a category's seats (already validated), in layout order. Inside the caller's
    transaction."""
    Seat.objects.using(DB).bulk_create(
        (
            Seat(category=category, row=row, number=number, position=index)
            for index, (row, number) in enumerate(seats)
        ),
        batch_size=2000,
    )


# --- Holds ------------------------------------------------------------------------------------
def seats_check_named(*, category: SeatCategory, seat_ids: Sequence[int], quantity: int) -> None:
    """Refuse at once what can be told now about seats a buyer names: not `quantity` different
    seats (SeatCountMismatch), not this category's (SeatNotInCategory), someone else's now
    (SeatTaken; a hold past its expiry does not count). The hold decides the races."""
    if len(set(seat_ids)) != len(seat_ids) or len(seat_ids) != quantity:
        raise SeatCountMismatch(details={"quantity": quantity})
    if not category.numbered:
        raise SeatNotInCategory(details={"seat_ids": sorted(seat_ids)})
    unknown, taken = selectors.seats_named_state(
        category_id=category.pk, seat_ids=list(seat_ids), now=timezone.now()
    )
    if unknown:
        raise SeatNotInCategory(details={"seat_ids": unknown})
    if taken:
        raise SeatTaken(details={"seat_ids": taken})


def seats_take(
    *, hold_id: uuid.UUID, category_id: int, quantity: int, seat_ids: Sequence[int] = ()
) -> bool:
    """Give a hold of a numbered category its seats: those named (SeatTaken when any is
    someone else's by now), or the best free ones. Inside the hold's transaction, after its
    counters were taken (see the module's docstring). False when the best seats could not be
    found (the caller rolls back: never a hold without its seats)."""
    if seat_ids:
        locked = selectors.seats_named_free_lock(category_id=category_id, seat_ids=list(seat_ids))
        if len(locked) != len(seat_ids):
            raise SeatTaken(details={"seat_ids": sorted(set(seat_ids) - set(locked))})
        _assign(locked, hold_id)
        return True
    taken = 0
    for _ in range(PICK_ATTEMPTS):
        picked = selectors.seats_best_free_lock(category_id=category_id, limit=quantity - taken)
        _assign(picked, hold_id)
        taken += len(picked)
        if taken == quantity:
            return True
    return False


def _assign(seat_ids: list[int], hold_id: uuid.UUID) -> None:
    if seat_ids:
        Seat.objects.using(DB).filter(pk__in=seat_ids).update(hold_id=hold_id)


def seats_free(*, hold_ids: Iterable[uuid.UUID]) -> int:
    """The seats of holds that end without a sale (released, expired) are free again. Inside
    the caller's transaction, after the counters (it holds these holds' row locks)."""
    return Seat.objects.using(DB).filter(hold_id__in=list(hold_ids)).update(hold=None)


def seats_unsell(*, seat_ids: Iterable[int | None]) -> int:
    """The seats of voided tickets go back on sale. Inside the caller's transaction."""
    ids = [seat_id for seat_id in seat_ids if seat_id is not None]
    if not ids:
        return 0
    return Seat.objects.using(DB).filter(pk__in=ids).update(hold=None)
