"""Numbered seats under real concurrency (PostgreSQL: real mode only), as test_on_sale_race.py
races the counters: buyers picking the best seats never oversell nor get turned away while a
seat is left; buyers naming overlapping seats, releasing, buying and voiding keep every seat in
one hold at most and the counters equal to holds + tickets in every snapshot a watcher takes."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from apps.ticketing import selectors
from apps.ticketing.error_codes import HoldNotActive, SeatTaken, SoldOut
from apps.ticketing.models import Hold, Seat, Ticket
from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories
from apps.ticketing.tests.test_on_sale_race import (
    WORKERS,
    _on_own_connection,
    buyers_race,
    churn_watched,
)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks race only in PostgreSQL (real mode)"
    ),
]


def _snapshot(category_id: int) -> tuple[int, int, int]:
    """(seats kept by active holds + valid tickets, held + sold by the counters, seats of
    active holds and sold ones), read in one REPEATABLE READ snapshot."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            cursor.execute(
                "SELECT (SELECT COALESCE(SUM(quantity), 0) FROM ticketing_hold"
                "        WHERE category_id = %(c)s AND status = 'active')"
                "     + (SELECT COUNT(*) FROM ticketing_ticket"
                "        WHERE category_id = %(c)s AND status = 'valid'),"
                "       (SELECT COALESCE(SUM(held + sold), 0) FROM ticketing_categoryshard"
                "        WHERE category_id = %(c)s),"
                "       (SELECT COUNT(*) FROM ticketing_seat s JOIN ticketing_hold h"
                "        ON h.id = s.hold_id WHERE s.category_id = %(c)s"
                "        AND h.status IN ('active', 'converted'))",
                {"c": category_id},
            )
            kept, counted, seated = cursor.fetchone()
        finally:
            cursor.execute("COMMIT")
    return kept, counted, seated


def test_buyers_picking_the_best_seats_get_each_seat_once_and_all_of_them() -> None:
    rows, per_row, attempts = "ABCDE", 10, 80  # 50 seats
    category = factories.category_of(
        factories.numbered_show(rows=rows, per_row=per_row, shard_count=8)
    )
    won = buyers_race(category.pk, attempts)

    # Every seat to exactly one buyer; none turned away while one was left.
    assert won.count(True) == len(rows) * per_row
    assert not Seat.objects.filter(category=category, hold=None).exists()
    held_by = Seat.objects.filter(category=category).values_list("hold_id", flat=True)
    assert len(set(held_by)) == len(rows) * per_row  # one seat a hold of one
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_named_and_picked_holds_releases_and_sales_racing_keep_seats_and_counters_equal() -> None:
    category = factories.category_of(factories.numbered_show(rows="AB", per_row=6, shard_count=4))
    seat_ids = list(Seat.objects.filter(category=category).values_list("pk", flat=True))

    def buyer(seed: int) -> dict[str, int]:
        chance = random.Random(seed)  # noqa: S311 - test data
        done = {"held": 0, "taken": 0, "sold_out": 0}
        for _ in range(20):
            quantity = chance.randint(1, 3)
            named = chance.sample(seat_ids, quantity) if chance.random() < 0.5 else []
            try:
                hold = holds.hold_place(
                    user_id=seed, category_id=category.pk, quantity=quantity, seat_ids=named
                )
            except SeatTaken:
                done["taken"] += 1
                continue
            except SoldOut:
                done["sold_out"] += 1
                continue
            done["held"] += 1
            if chance.random() < 0.6:
                holds.hold_release(hold_id=hold.pk)
            else:
                tickets.tickets_issue(hold_id=hold.pk)
                if chance.random() < 0.6:
                    tickets.tickets_void(hold_id=hold.pk)
        return done

    results, seen = churn_watched(buyer, lambda: _snapshot(category.pk))

    assert sum(r["held"] for r in results) > 12  # seats were taken, given back, taken again
    assert sum(r["taken"] for r in results) > 0  # and named seats were fought over
    assert seen, "the watcher took no snapshot"
    capacity = 12
    assert all(kept <= capacity and counted <= capacity for kept, counted, _ in seen), max(seen)
    # Counters = holds + tickets = seats kept, in every snapshot.
    assert all(kept == counted == seated for kept, counted, seated in seen), [
        s for s in seen if len(set(s)) > 1
    ][:3]
    assert selectors.invariant_violations(category_id=category.pk) == []
    assert not Hold.objects.filter(status="active").exists()
    valid = Ticket.objects.filter(category=category, status="valid")
    assert valid.count() == valid.values("seat_id").distinct().count() <= capacity


def test_expiry_racing_buyers_of_numbered_seats_loses_and_doubles_no_seat(settings: Any) -> None:
    """Holds that expire at once: buyers reclaim stale seats (by name or best), others buy
    theirs, a sweeper expires what it finds — no seat kept by an ended hold, none sold twice."""
    settings.CLEAVE_TICKETING_HOLD_SECONDS = 0
    category = factories.category_of(factories.numbered_show(rows="A", per_row=8, shard_count=4))
    seat_ids = list(Seat.objects.filter(category=category).values_list("pk", flat=True))
    stop = threading.Event()

    def buyer(seed: int) -> int:
        chance = random.Random(seed)  # noqa: S311 - test data
        sold = 0
        for _ in range(12):
            named = [chance.choice(seat_ids)] if seed % 2 else []
            try:
                hold = holds.hold_place(
                    user_id=seed, category_id=category.pk, quantity=1, seat_ids=named
                )
                tickets.tickets_issue(hold_id=hold.pk)
                sold += 1
            except (SoldOut, SeatTaken, HoldNotActive):
                continue
        return sold

    def sweep() -> None:
        while not stop.is_set():
            holds.holds_expire(category_id=category.pk)

    sweeper = threading.Thread(target=_on_own_connection(sweep))
    sweeper.start()
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = list(
                pool.map(lambda s: _on_own_connection(lambda: buyer(s))(), range(WORKERS * 2))
            )
    finally:
        stop.set()
        sweeper.join()

    holds.holds_expire(category_id=category.pk)
    assert sum(results) >= 1
    assert selectors.invariant_violations(category_id=category.pk) == []
    sold = Ticket.objects.filter(category=category, status="valid")
    assert sold.count() == sold.values("seat_id").distinct().count() == sum(results)
    assert Seat.objects.filter(category=category, hold=None).count() == 8 - sold.count()
