"""The on-sale invariant under real concurrency (PostgreSQL: real mode only): many threads,
each on its own connection, race for few seats while a watcher checks every snapshot it can
take that sold + held ≤ capacity, and the counters agree with the holds and tickets after."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections

from apps.ticketing import selectors
from apps.ticketing.error_codes import HoldNotActive, SoldOut
from apps.ticketing.models import CategoryShard, Hold, Ticket
from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")
# Threads at once: as many as the process's connection pool serves (DB_POOL_MAX) beside the
# test's own connection and a watcher's, so no thread waits for the pool instead of a lock.
WORKERS = max(2, django_settings.CONFIG.db_pool_max - 2)

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="row locks race only in PostgreSQL (real mode)"
    ),
]


def _on_own_connection(work: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            return work()
        finally:
            connections.close_all()

    return run


def buyers_race(category_id: int, attempts: int) -> list[bool]:
    """`attempts` buyers of one seat each, taken in turn by WORKERS threads released together
    (each on its own connection); whether each got a seat."""
    start = threading.Barrier(WORKERS)
    numbers = iter(range(attempts))
    lock = threading.Lock()

    def buy() -> list[bool]:
        start.wait()
        won: list[bool] = []
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return won
            try:
                holds.hold_place(user_id=number + 1, category_id=category_id, quantity=1)
                won.append(True)
            except SoldOut:
                won.append(False)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = [pool.submit(_on_own_connection(buy)) for _ in range(WORKERS)]
        return [granted for future in futures for granted in future.result()]


def churn_watched(buyer: Callable[[int], R], snapshot: Callable[[], S]) -> tuple[list[R], list[S]]:
    """`buyer(seed)` for WORKERS * 3 seeds on WORKERS threads (each on its own connection) while
    a watcher thread takes `snapshot()` over and over until they are done; (their results, the
    snapshots)."""
    stop, seen = threading.Event(), list[S]()

    def watch() -> None:
        while not stop.is_set():
            seen.append(snapshot())

    watcher = threading.Thread(target=_on_own_connection(watch))
    watcher.start()
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            results = list(
                pool.map(lambda s: _on_own_connection(lambda: buyer(s))(), range(WORKERS * 3))
            )
    finally:
        stop.set()
        watcher.join()
    return results, seen


def _snapshot_total(category_id: int) -> tuple[int, int]:
    """(seats held by active holds + valid tickets, held + sold by the counters), read in one
    REPEATABLE READ snapshot on this thread's own connection."""
    with connection.cursor() as cursor:
        cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        try:
            cursor.execute(
                "SELECT COALESCE(SUM(quantity), 0) FROM ticketing_hold "
                "WHERE category_id = %s AND status = 'active'",
                [category_id],
            )
            held = cursor.fetchone()[0]
            cursor.execute(
                "SELECT COUNT(*) FROM ticketing_ticket WHERE category_id = %s AND status = 'valid'",
                [category_id],
            )
            sold = cursor.fetchone()[0]
            cursor.execute(
                "SELECT COALESCE(SUM(held + sold), 0) FROM ticketing_categoryshard "
                "WHERE category_id = %s",
                [category_id],
            )
            counted = cursor.fetchone()[0]
        finally:
            cursor.execute("COMMIT")
    return held + sold, counted


def test_buyers_racing_never_oversell_and_each_seat_is_held_exactly_once() -> None:
    capacity, attempts = 50, 80
    category = factories.category_of(factories.show(capacity=capacity, shard_count=8))
    won = buyers_race(category.pk, attempts)

    # Exactly the capacity: none oversold, and none turned away while a seat was left (a buyer
    # who found every shard locked waited for one instead of answering sold out).
    assert len(won) == attempts
    assert won.count(True) == capacity
    assert selectors.category_available(category_id=category.pk) == 0
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_holds_releases_and_sales_racing_keep_sold_plus_held_within_capacity() -> None:
    capacity = 20
    category = factories.category_of(factories.show(capacity=capacity, shard_count=4))

    def buyer(seed: int) -> int:
        chance = random.Random(seed)  # noqa: S311 - test data
        done = 0
        for _ in range(25):
            try:
                hold = holds.hold_place(
                    user_id=seed, category_id=category.pk, quantity=chance.randint(1, 3)
                )
            except SoldOut:
                continue
            if chance.random() < 0.7:
                holds.hold_release(hold_id=hold.pk)
            else:
                tickets.tickets_issue(hold_id=hold.pk)
                if chance.random() < 0.5:
                    tickets.tickets_void(hold_id=hold.pk)
            done += 1
        return done

    results, seen = churn_watched(buyer, lambda: _snapshot_total(category.pk))

    assert sum(results) > capacity  # seats were taken, given back and taken again
    assert seen, "the watcher took no snapshot"
    assert all(total <= capacity and counted <= capacity for total, counted in seen), max(seen)
    assert all(total == counted for total, counted in seen)  # counters = holds + tickets, always
    assert selectors.invariant_violations(category_id=category.pk) == []
    held = sum(CategoryShard.objects.filter(category=category).values_list("held", flat=True))
    assert held == 0
    assert not Hold.objects.filter(status="active").exists()
    assert Ticket.objects.filter(status="valid").count() <= capacity


def test_expiry_racing_buyers_sales_and_the_sweeper_loses_no_seat(settings: Any) -> None:
    """Holds that expire at once: buyers reclaim stale seats, others buy theirs, a sweeper
    expires what it finds — every hold ends expired or sold, never both, and no seat is lost."""
    settings.CLEAVE_TICKETING_HOLD_SECONDS = 0
    capacity = 10
    category = factories.category_of(factories.show(capacity=capacity, shard_count=4))
    stop = threading.Event()

    def buyer(seed: int) -> tuple[int, int]:
        sold = lost = 0
        for _ in range(15):
            try:
                hold = holds.hold_place(
                    user_id=seed, category_id=category.pk, quantity=1 + seed % 2
                )
            except SoldOut:
                continue
            try:
                tickets.tickets_issue(hold_id=hold.pk)
                sold += 1
            except HoldNotActive:
                lost += 1  # a sweeper or another buyer expired it first
        return sold, lost

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

    assert sum(sold for sold, _ in results) >= 1
    assert Ticket.objects.filter(status="valid").count() <= capacity
    assert not Ticket.objects.filter(hold__status="expired").exists()  # expired, never sold
    holds.holds_expire(category_id=category.pk)
    assert selectors.invariant_violations(category_id=category.pk) == []
    sold_seats = Ticket.objects.filter(category=category, status="valid").count()
    assert selectors.category_available(category_id=category.pk) == capacity - sold_seats
