"""ticketing's reads, and the row locks its services take (each says: inside a transaction).
Numbered seats' own are in `selectors.seats`, re-exported here."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import datetime

from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from apps.ticketing.models import (
    CategoryShard,
    Hold,
    HoldAllocation,
    Order,
    QueueEntry,
    SeatCategory,
    Show,
    Ticket,
)
from apps.ticketing.selectors.availability import CategoryAvailability as CategoryAvailability
from apps.ticketing.selectors.availability import (
    categories_with_availability as categories_with_availability,
)
from apps.ticketing.selectors.availability import category_available as category_available
from apps.ticketing.selectors.availability import shows_available as shows_available
from apps.ticketing.selectors.seats import seat_map as seat_map
from apps.ticketing.selectors.seats import seat_violations
from apps.ticketing.selectors.seats import seats_best_free_lock as seats_best_free_lock
from apps.ticketing.selectors.seats import seats_named_free_lock as seats_named_free_lock
from apps.ticketing.selectors.seats import seats_named_state as seats_named_state
from apps.ticketing.selectors.seats import seats_of_hold as seats_of_hold
from cleave.databases import database_for

DB = database_for("ticketing")


# --- Shows ---------------------------------------------------------------------------------
def show_list(
    *,
    starts_after: datetime | None = None,
    starts_before: datetime | None = None,
    city: str | None = None,
    show_ids: list[int] | None = None,
) -> QuerySet[Show]:
    """Published shows not over yet (or in the given window), with their venue."""
    shows = Show.objects.using(DB).filter(status=Show.Status.PUBLISHED).select_related("venue")
    if show_ids is not None:
        shows = shows.filter(pk__in=show_ids)
    shows = (
        shows.filter(starts_at__gte=starts_after)
        if starts_after
        else shows.filter(ends_at__gte=timezone.now())
    )
    if starts_before is not None:
        shows = shows.filter(starts_at__lt=starts_before)
    if city:
        shows = shows.filter(venue__city__iexact=city)
    return shows


def show_get(*, show_id: int, published_only: bool = True) -> Show | None:
    shows = Show.objects.using(DB).select_related("venue").filter(pk=show_id)
    if published_only:
        shows = shows.filter(status=Show.Status.PUBLISHED)
    return shows.first()


def show_public_key(*, show_id: int) -> str | None:
    return Show.objects.using(DB).filter(pk=show_id).values_list("public_key", flat=True).first()


def show_lock(*, show_id: int) -> Show | None:
    """The show, row-locked (as `show_publish` locks it). The caller must hold a transaction."""
    return Show.objects.using(DB).select_for_update(no_key=True).filter(pk=show_id).first()


def show_private_key(*, show_id: int) -> str:
    show = Show.objects.using(DB).only("private_key").get(pk=show_id)
    return show.private_key


def category_for_sale(*, category_id: int) -> SeatCategory | None:
    return SeatCategory.objects.using(DB).select_related("show").filter(pk=category_id).first()


# --- Locks (the caller must hold a transaction) ---------------------------------------------
# All FOR NO KEY UPDATE: rows inserted by other transactions reference these by foreign key,
# and their key-share locks must not wait for ours (with FOR UPDATE they do: a deadlock when
# the inserter already holds a lock we wait for).
def shards_with_room_lock(*, category_id: int) -> list[tuple[int, int]]:
    """Lock the category's shards that have room, in pk order (waiting for them), and return
    (id, free seats). The caller must hold a transaction."""
    rows = (
        CategoryShard.objects.using(DB)
        .select_for_update(no_key=True)
        .filter(category_id=category_id, capacity__gt=F("held") + F("sold"))
        .order_by("pk")
        .values_list("pk", "capacity", "held", "sold")
    )
    return [(pk, capacity - held - sold) for pk, capacity, held, sold in rows]


def hold_lock(*, hold_id: uuid.UUID, skip_locked: bool = False) -> Hold | None:
    """The hold, row-locked (None if absent, or locked by another with `skip_locked`). The
    caller must hold a transaction."""
    return (
        Hold.objects.using(DB)
        .select_for_update(skip_locked=skip_locked, of=("self",), no_key=True)
        .select_related("category")
        .filter(pk=hold_id)
        .first()
    )


def ticket_lock(*, ticket_id: uuid.UUID) -> Ticket | None:
    """The ticket, row-locked. The caller must hold a transaction."""
    return Ticket.objects.using(DB).select_for_update(no_key=True).filter(pk=ticket_id).first()


# --- Holds and tickets ------------------------------------------------------------------------
def holds_expired_lock(*, category_id: int | None, now: datetime, limit: int) -> list[uuid.UUID]:
    """Lock up to `limit` active holds past their expiry (of one category, or all), skipping
    those another transaction has locked; their ids. The caller must hold a transaction."""
    holds = Hold.objects.using(DB).filter(status=Hold.Status.ACTIVE, expires_at__lte=now)
    if category_id is not None:
        holds = holds.filter(category_id=category_id)
    return list(
        holds.order_by("expires_at")
        .select_for_update(skip_locked=True, no_key=True)
        .values_list("pk", flat=True)[:limit]
    )


def hold_by_key(*, key: str) -> Hold | None:
    """The hold placed with `key`: by the id the key names (Hold.id_for_key), or, placed before
    2026-12-07, by the key it carries (both indexed)."""
    return Hold.objects.using(DB).filter(Q(pk=Hold.id_for_key(key)) | Q(key=key)).first()


def hold_get(*, hold_id: uuid.UUID, user_id: int) -> Hold | None:
    return (
        Hold.objects.using(DB)
        .select_related("category")
        .filter(pk=hold_id, user_id=user_id)
        .first()
    )


def ticket_list(*, user_id: int) -> QuerySet[Ticket]:
    """The user's tickets, valid or void (an app shows a refunded ticket as such), with the
    show and category they need to render it offline."""
    return (
        Ticket.objects.using(DB)
        .filter(user_id=user_id)
        .select_related("show__venue", "category", "seat")
    )


# --- Orders ------------------------------------------------------------------------------------
# Not finished: an order on these still changes (its stream is worth joining).
ORDER_OPEN = ("placed", "awaiting_payment", "authorized", "paid", "cancelling")


def order_get(*, order_id: uuid.UUID, user_id: int | None = None) -> Order | None:
    """The order (with its category and show); with `user_id`, only that buyer's."""
    orders = Order.objects.using(DB).select_related("category__show").filter(pk=order_id)
    if user_id is not None:
        orders = orders.filter(user_id=user_id)
    return orders.first()


def order_lock(*, order_id: uuid.UUID) -> Order | None:
    """The order, row-locked. The caller must hold a transaction."""
    return Order.objects.using(DB).select_for_update(no_key=True).filter(pk=order_id).first()


def order_by_key(*, user_id: int, idempotency_key: str) -> Order | None:
    return Order.objects.using(DB).filter(user_id=user_id, idempotency_key=idempotency_key).first()


def order_list(*, user_id: int) -> QuerySet[Order]:
    """The buyer's orders (the API pages them newest first)."""
    return Order.objects.using(DB).filter(user_id=user_id).select_related("category__show")


def order_ids_owned(*, user_id: int, order_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Those of `order_ids` that are the user's: one query (stream authorization)."""
    return set(
        Order.objects.using(DB)
        .filter(user_id=user_id, pk__in=order_ids)
        .values_list("pk", flat=True)
    )


def order_ids_open(*, user_ids: list[int], limit: int = 20) -> dict[int, list[uuid.UUID]]:
    """Each user's newest unfinished orders (a socket joins their streams when it connects)."""
    found: dict[int, list[uuid.UUID]] = {user_id: [] for user_id in user_ids}
    rows = (
        Order.objects.using(DB)
        .filter(user_id__in=user_ids, status__in=ORDER_OPEN)
        .order_by("-created_at")
        .values_list("user_id", "pk")
    )
    for user_id, order_id in rows[: limit * max(len(user_ids), 1)]:
        if len(found[user_id]) < limit:
            found[user_id].append(order_id)
    return found


def order_ticket_ids(*, hold_id: uuid.UUID | None) -> list[str]:
    """The valid tickets issued from the order's hold (by its foreign key's index)."""
    if hold_id is None:
        return []
    return [
        str(ticket_id)
        for ticket_id in Ticket.objects.using(DB)
        .filter(hold_id=hold_id, status=Ticket.Status.VALID)
        .order_by("issued_at", "id")
        .values_list("pk", flat=True)
    ]


def hold_shares(*, hold: Hold) -> list[tuple[int, int]]:
    """(shard id, seats) for each shard a hold took seats from, in shard order: the hold's own
    shard, or its allocations when it took them from several."""
    if hold.shard_id is not None:
        return [(hold.shard_id, hold.quantity)]
    allocations = HoldAllocation.objects.using(DB).filter(hold=hold).order_by("shard_id")
    return list(allocations.values_list("shard_id", "quantity"))


def holds_shares(*, hold_ids: list[uuid.UUID]) -> list[tuple[int, int]]:
    """(shard id, seats) for every shard each of these holds took seats from (unordered)."""
    own = Hold.objects.using(DB).filter(pk__in=hold_ids).exclude(shard=None)
    spread = HoldAllocation.objects.using(DB).filter(hold_id__in=hold_ids)
    return [
        *own.values_list("shard_id", "quantity"),
        *spread.values_list("shard_id", "quantity"),
    ]


# --- Invariants ---------------------------------------------------------------------------------
def invariant_violations(*, category_id: int | None = None) -> list[str]:
    """What contradicts the on-sale invariants (empty when all hold): a shard over capacity
    (the CHECK forbids it), or a shard whose counters disagree with the live holds and valid
    tickets on it (a seat lost or counted twice). For tests and benchmarks, and operators."""
    shard_rows = CategoryShard.objects.using(DB).all()
    if category_id is not None:
        shard_rows = shard_rows.filter(category_id=category_id)
    live = Hold.objects.using(DB).filter(status=Hold.Status.ACTIVE)
    if category_id is not None:
        live = live.filter(category_id=category_id)
    held: Counter[int] = Counter()
    for shard_id, seats in [
        *live.exclude(shard=None)
        .values("shard_id")
        .annotate(n=Sum("quantity"))
        .values_list("shard_id", "n"),
        *HoldAllocation.objects.using(DB)
        .filter(hold__in=live.filter(shard=None))
        .values("shard_id")
        .annotate(n=Sum("quantity"))
        .values_list("shard_id", "n"),
    ]:
        held[shard_id] += seats
    sold = dict(
        Ticket.objects.using(DB)
        .filter(status=Ticket.Status.VALID)
        .values("shard_id")
        .annotate(n=Count("id"))
        .values_list("shard_id", "n")
    )
    problems = seat_violations(category_id=category_id)
    shards = list(shard_rows)
    if orphans := set(held) - {shard.pk for shard in shards}:  # Hold.shard has no FK check
        problems.append(f"live holds name shards that do not exist: {sorted(orphans)}")
    for shard in shards:
        if shard.held + shard.sold > shard.capacity:
            problems.append(
                f"shard {shard.pk} oversold: {shard.held}+{shard.sold}>{shard.capacity}"
            )
        if shard.held != held.get(shard.pk, 0):
            problems.append(
                f"shard {shard.pk} held {shard.held}, live holds {held.get(shard.pk, 0)}"
            )
        if shard.sold != sold.get(shard.pk, 0):
            problems.append(
                f"shard {shard.pk} sold {shard.sold}, valid tickets {sold.get(shard.pk, 0)}"
            )
    return problems


# --- Waiting rooms ------------------------------------------------------------------------------
def queued_shows(*, user_id: int, show_ids: list[int]) -> set[int]:
    """Those of `show_ids` whose queue the buyer holds a place in (waiting or admitted)."""
    if not show_ids:
        return set()
    entries = QueueEntry.objects.using(DB).filter(user_id=user_id, show_id__in=show_ids)
    return set(entries.values_list("show_id", flat=True))


def waiting_in_many(*, user_ids: list[int]) -> dict[int, list[int]]:
    """The shows whose queue each buyer still waits in (oldest place first, 20 at most), for
    several buyers in one query."""
    entries = QueueEntry.objects.using(DB).filter(user_id__in=user_ids, admitted_at=None)
    found: dict[int, list[int]] = {}
    for user_id, show_id in entries.order_by("pk").values_list("user_id", "show_id"):
        if len(shows := found.setdefault(user_id, [])) < 20:
            shows.append(show_id)
    return found
