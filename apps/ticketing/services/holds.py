"""The on-sale hot path: holding seats, releasing them, expiring holds (docs/ticketing.md).

A category's capacity is split over `CategoryShard` counter rows. A buyer takes seats from one
shard that has room, picked with SKIP LOCKED from a random starting point, in one statement
that also writes the hold (hold_statements), so buyers of one category lock different rows for
one round trip each and commit in parallel instead of queueing on the category's row. When
every shard with room is locked, a buyer waits for one of them (never for several). Only when
no single shard has the seats (a category nearly full, a hold of several seats) does a buyer
lock every shard with room, in primary-key order, and take seats from several. The CHECK on
each shard (`held + sold <= capacity`) makes an oversell impossible whatever the code above it
does; apps/ticketing/tests/test_on_sale_race.py races it, bench/ticketing measures it.

A numbered category (services.seats) takes its counters the same way, then gives the hold its
seats in the same transaction: the best free ones (SKIP LOCKED) or those the buyer named.

Every function is idempotent, so a saga may call it again after a crash:
- `hold_place(key=…)` returns the hold placed first with that key;
- `hold_release` of a hold no longer active changes nothing;
- `holds_expire` skips what another sweeper or buyer already expired (or has locked).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone

from apps.ticketing import metrics, selectors
from apps.ticketing.error_codes import (
    CategoryNotFound,
    HoldKeyReused,
    HoldNotFound,
    SeatTaken,
    ShowNotOnSale,
    SoldOut,
    TooManySeats,
)
from apps.ticketing.models import CategoryShard, Hold, HoldAllocation, SeatCategory, Show
from apps.ticketing.services import hold_batches
from apps.ticketing.services import hold_statements as statements
from apps.ticketing.services import seats as seating
from cleave.databases import database_for

DB = database_for("ticketing")
# A buyer who keeps losing the race for single shards (the last seats of a category going
# fast) then locks every shard with room instead, which answers exactly.
WAITING_ATTEMPTS = 5


def setting(name: str) -> int:
    """A setting of ticketing's declaration (context.py), read per call so tests may change
    it; by name, since django-stubs knows only the kernel's settings."""
    return int(getattr(settings, name))


def hold_ttl() -> timedelta:
    return timedelta(seconds=setting("CLEAVE_TICKETING_HOLD_SECONDS"))


class _NoSeats(Exception):
    """The counters were taken but the best seats not found: the hold's transaction rolls back."""


def hold_place(
    *,
    user_id: int,
    category_id: int,
    quantity: int,
    key: str | None = None,
    seat_ids: Sequence[int] = (),
) -> Hold:
    """Hold `quantity` seats of a category for the buyer until the hold's `expires_at`.

    `key` makes it idempotent: the same key returns the first hold (whatever its state since);
    reused for another buyer, category or quantity it is refused (HoldKeyReused). SoldOut when
    fewer seats are left; expired holds in the way are expired first, so they never count.
    A numbered category's hold gets the seats named in `seat_ids` (`quantity` of them:
    SeatCountMismatch, SeatNotInCategory, SeatTaken), or else the best free ones.
    """
    if quantity > (maximum := setting("CLEAVE_TICKETING_MAX_SEATS_PER_HOLD")):
        raise TooManySeats(details={"maximum": maximum})
    if key is not None and (existing := _hold_by_key(key, user_id, category_id, quantity)):
        return existing
    category = selectors.category_for_sale(category_id=category_id)
    if category is None:
        raise CategoryNotFound()
    if category.show.status != Show.Status.PUBLISHED or category.show.ends_at <= timezone.now():
        raise ShowNotOnSale()
    if seat_ids:
        seating.seats_check_named(category=category, seat_ids=seat_ids, quantity=quantity)
    # Most buyers of an on-sale come after the last seat: one read answers them, where a try
    # costs a batch or two walks, and then a sweep. Seats freed after it are a race they lost.
    if (available := selectors.category_available(category_id=category.pk)) < quantity:
        raise SoldOut(details={"available": available})
    # The key names the id (Hold.id_for_key): a second placement with it is refused by the
    # primary key, and the key needs no column. Chosen once, so a batch's write and this call's
    # own (hold_batches) can never both land.
    hold_id = Hold.id_for_key(key) if key is not None else uuid.uuid4()
    ask = _Ask(category, hold_id, user_id, quantity, key, tuple(seat_ids))
    try:
        hold = _hold_place_reclaiming(ask)
    except IntegrityError:
        # The id written first by a concurrent call with the same key, or by a batch this call
        # stopped waiting for: that one is the hold.
        if (existing := _hold_existing(hold_id, key, user_id, category_id, quantity)) is None:
            raise
        return existing
    if hold is None:
        raise SoldOut(details={"available": selectors.category_available(category_id=category.pk)})
    return hold


@dataclass(frozen=True)
class _Ask:
    """One call of hold_place, checked, with the id its hold will have however it is written."""

    category: SeatCategory
    hold_id: uuid.UUID
    user_id: int
    quantity: int
    key: str | None
    seat_ids: tuple[int, ...]


def _hold_place_reclaiming(ask: _Ask) -> Hold | None:
    """A try, and when the seats are gone a second one after expiring the category's stale
    holds (if there were any: they may have had the seats)."""
    try:
        hold = _hold_try(ask)
    except SeatTaken:
        if holds_expire(category_id=ask.category.pk) == 0:
            raise
        return _hold_try(ask)
    if hold is None and holds_expire(category_id=ask.category.pk) > 0:
        hold = _hold_try(ask)
    return hold


def _hold_existing(
    hold_id: uuid.UUID, key: str | None, user_id: int, category_id: int, quantity: int
) -> Hold | None:
    """The hold already written with this call's id (HoldKeyReused if the key's first hold was
    for another buyer, category or quantity)."""
    if key is not None:
        return _hold_by_key(key, user_id, category_id, quantity)
    return Hold.objects.using(DB).filter(pk=hold_id).first()


def _hold_by_key(key: str, user_id: int, category_id: int, quantity: int) -> Hold | None:
    hold = selectors.hold_by_key(key=key)
    if hold is not None and (hold.user_id, hold.category_id, hold.quantity) != (
        user_id,
        category_id,
        quantity,
    ):
        raise HoldKeyReused()
    return hold


def _hold_try(ask: _Ask) -> Hold | None:
    if not ask.category.numbered and hold_batches.enabled():
        # Counted in flight on its lane until written, however written: the lane's load.
        with hold_batches.in_flight(ask.category.pk, ask.hold_id) as busy:
            if busy and (hold := _hold_batched(ask)):
                return hold
            return _hold_alone(ask)
    return _hold_alone(ask)


def _hold_alone(ask: _Ask) -> Hold | None:
    """The hold in its own statement (and transaction), as steps 1-3 of docs/ticketing.md."""
    category, quantity = ask.category, ask.quantity
    try:
        # One transaction for both: a hold never exists without its seats, nor seats without it.
        with transaction.atomic(using=DB):
            hold = _counters_take(
                category.pk, category.shard_count, ask.hold_id, ask.user_id, quantity
            )
            if hold is not None and category.numbered:
                found = seating.seats_take(
                    hold_id=hold.pk,
                    category_id=category.pk,
                    quantity=quantity,
                    seat_ids=ask.seat_ids,
                )
                if not found:
                    raise _NoSeats
    except _NoSeats:
        return None
    if hold is not None:
        metrics.holds_written.labels("alone").inc()
        hold.category = category  # read already: the caller's answer needs it (numbered?)
    return hold


def _hold_batched(ask: _Ask) -> Hold | None:
    """The hold written by a batch (hold_batches), or None: this call writes it alone."""
    category, hold_id, user_id, quantity = ask.category, ask.hold_id, ask.user_id, ask.quantity
    now = timezone.now()
    request = hold_batches.Request(hold_id, user_id, quantity, now + hold_ttl(), now)
    answer = hold_batches.place(
        category_id=category.pk, shards=category.shard_count, request=request
    )
    if answer is None:
        return None
    if answer == hold_batches.EXISTS:
        hold = _hold_existing(hold_id, ask.key, user_id, category.pk, quantity)
        if hold is None:  # a hold is never deleted while its buyer waits: a bug
            raise RuntimeError(f"hold {hold_id} existed, then not")
    else:
        hold = _hold_loaded(_hold_values(hold_id, category.pk, user_id, quantity, now, answer))
    hold.category = category
    return hold


def _hold_values(
    hold_id: uuid.UUID,
    category_id: int,
    user_id: int,
    quantity: int,
    now: datetime,
    shard_id: int | None,
) -> dict[str, Any]:
    """A new hold's columns."""
    return {
        "id": hold_id,
        "user_id": user_id,
        "category_id": category_id,
        "quantity": quantity,
        "status": Hold.Status.ACTIVE,
        "key": None,
        "expires_at": now + hold_ttl(),
        "created_at": now,
        "ended_at": None,
        "shard_id": shard_id,
    }


def _counters_take(
    category_id: int, shards: int, hold_id: uuid.UUID, user_id: int, quantity: int
) -> Hold | None:
    """Take `quantity` from the category's counters and write the hold (None: too few left).
    Inside the caller's transaction (the waiting path's savepoints need one)."""
    now = timezone.now()
    values = _hold_values(hold_id, category_id, user_id, quantity, now, None)
    start = random.randrange(shards)  # noqa: S311 - spreading load, not a secret
    params = {"shards": shards, "start": start, "hold_id": values["id"], "now": now, **values}
    connection = connections[DB]
    if connection.vendor == "postgresql":
        if shard_id := _take_and_hold(connection, params):
            return _hold_loaded({**values, "shard_id": shard_id})
        taken = _take_seats_waiting(category_id, quantity)
    else:
        with connection.cursor() as cursor:
            # Only the pick's own parameters: sqlite3 binds no UUID (DEBUG's query log
            # binds every parameter given).
            pick = {name: params[name] for name in ("category_id", "quantity", "start", "shards")}
            cursor.execute(statements.TAKE_ONE_SHARD_SQLITE, pick)
            row = cursor.fetchone()
        taken = [(row[0], quantity)] if row else _take_seats_waiting(category_id, quantity)
    if not taken:
        return None
    if len(taken) == 1:
        values["shard_id"] = taken[0][0]
    hold = Hold.objects.using(DB).create(**values)
    if len(taken) > 1:
        HoldAllocation.objects.using(DB).bulk_create(
            HoldAllocation(hold=hold, shard_id=shard, quantity=seats) for shard, seats in taken
        )
    return hold


def _take_and_hold(connection: BaseDatabaseWrapper, params: dict[str, Any]) -> int | None:
    """The one-statement paths (hold_statements), inside the caller's transaction: the shard
    when the hold is written. None when no single shard has the seats, or the buyer lost every
    race for one."""
    with connection.cursor() as cursor:
        cursor.execute(statements.TAKE_FREE_SHARD, params)
        picked, taken = cursor.fetchone()
        if taken is not None:
            return int(taken)
        for _ in range(WAITING_ATTEMPTS):
            # A lost race leaves the row waited for locked (PostgreSQL locks a row's new version
            # before re-checking it) until the transaction ends: each attempt is a savepoint,
            # rolled back when lost, so a buyer never holds one shard while waiting for another.
            savepoint = transaction.savepoint(using=DB)
            cursor.execute(statements.TAKE_WAITING, params)
            picked, taken = cursor.fetchone()
            if taken is not None:
                transaction.savepoint_commit(savepoint, using=DB)
                return int(taken)
            transaction.savepoint_rollback(savepoint, using=DB)
            if picked is None:  # no shard has the seats now
                return None
    return None


def _hold_loaded(values: dict[str, Any]) -> Hold:
    """The Hold the fast path's statement inserted, without reading it back."""
    names = [field.attname for field in Hold._meta.concrete_fields]
    return Hold.from_db(DB, names, [values[name] for name in names])


def _take_seats_waiting(category_id: int, quantity: int) -> list[tuple[int, int]]:
    """The slow path, when no single shard has the seats (a category nearly full, a hold of
    several seats): wait for every shard with room (locked in pk order, so waiters never
    deadlock) and take the seats from several. (shard id, seats)
    taken inside the caller's transaction; [] when too few are left."""
    free = selectors.shards_with_room_lock(category_id=category_id)
    if sum(room for _, room in free) < quantity:
        return []
    taken: list[tuple[int, int]] = []
    wanted = quantity
    for shard_id, room in free:
        seats = min(room, wanted)
        taken.append((shard_id, seats))
        wanted -= seats
        if wanted == 0:
            break
    for shard_id, seats in taken:
        CategoryShard.objects.using(DB).filter(pk=shard_id).update(held=F("held") + seats)
    return taken


def hold_release(*, hold_id: uuid.UUID, user_id: int | None = None) -> Hold:
    """Give a hold's seats back. Idempotent: a hold already released, expired or converted is
    returned as it is. `user_id` (the API's caller) must own it, else HoldNotFound."""
    with transaction.atomic(using=DB):
        hold = selectors.hold_lock(hold_id=hold_id)
        if hold is None or (user_id is not None and hold.user_id != user_id):
            raise HoldNotFound()
        if hold.status == Hold.Status.ACTIVE:
            _give_back(hold, Hold.Status.RELEASED)
    return hold


def _give_back(hold: Hold, status: str) -> None:
    """Return an active hold's seats to its shards (caller holds the hold's row lock)."""
    for shard_id, seats in selectors.hold_shares(hold=hold):
        CategoryShard.objects.using(DB).filter(pk=shard_id).update(held=F("held") - seats)
    if hold.category.numbered:  # selected with the hold (selectors.hold_lock)
        seating.seats_free(hold_ids=[hold.pk])
    hold.status = status
    hold.ended_at = timezone.now()
    hold.save(update_fields=["status", "ended_at"])


def holds_expire(*, category_id: int | None = None, limit: int = 500) -> int:
    """Expire up to `limit` active holds past their time (of one category, or all): their seats
    go back. The periodic task runs it for all; a buyer facing a sold-out category runs it for
    that one, maybe inside the request's transaction. So it is one transaction that never waits
    for a hold (those another sweeper, buyer or saga has locked are skipped) and takes shards in
    primary-key order, like every other writer of several shards: no deadlock either way."""
    now = timezone.now()
    with transaction.atomic(using=DB):
        hold_ids = selectors.holds_expired_lock(category_id=category_id, now=now, limit=limit)
        if not hold_ids:
            return 0
        per_shard: Counter[int] = Counter()
        for shard_id, seats in selectors.holds_shares(hold_ids=hold_ids):
            per_shard[shard_id] += seats
        for shard_id in sorted(per_shard):
            CategoryShard.objects.using(DB).filter(pk=shard_id).update(
                held=F("held") - per_shard[shard_id]
            )
        seating.seats_free(hold_ids=hold_ids)
        Hold.objects.using(DB).filter(pk__in=hold_ids).update(
            status=Hold.Status.EXPIRED, ended_at=now
        )
    return len(hold_ids)
