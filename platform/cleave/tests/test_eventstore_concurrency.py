"""Concurrent appends in PostgreSQL: optimistic concurrency between two real transactions, and
positions that become visible in order (a catch-up reader never skips a late commit)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, connections, transaction

from cleave.eventstore import NewEvent, WrongExpectedVersion, append, read_all, stream_version
from cleave.testing.processes import wait_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="SQLite runs one writer at a time; PostgreSQL is where appends race",
    ),
]


def placed(total: int) -> NewEvent:
    return NewEvent("orders.OrderPlaced", {"customer": "c1", "total": total})


def in_thread(work: Callable[[], Any], results: list[Any]) -> threading.Thread:
    def run() -> None:
        try:
            results.append(work())
        except Exception as error:
            results.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_concurrent_appends_expecting_the_same_version_one_wins_one_conflicts() -> None:
    barrier = threading.Barrier(2)
    results: list[Any] = []

    def append_new(total: int) -> Callable[[], int]:
        def work() -> int:
            with transaction.atomic():
                barrier.wait(timeout=10)  # both transactions are open before either appends
                return append("orders.order-1", [placed(total)], expected_version=0)

        return work

    threads = [in_thread(append_new(total), results) for total in (1, 2)]
    for thread in threads:
        thread.join(timeout=20)

    assert sorted(type(r).__name__ for r in results) == ["WrongExpectedVersion", "int"]
    conflict = next(r for r in results if isinstance(r, WrongExpectedVersion))
    assert (conflict.expected, conflict.actual) == (0, 1)
    assert stream_version("orders.order-1") == 1


def _waiting_for_the_position_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        row = cursor.fetchone()
    return bool(row and row[0])


def test_appends_to_different_streams_run_side_by_side() -> None:
    first_appended, release_first = threading.Event(), threading.Event()
    results: list[Any] = []

    def first() -> int:
        with transaction.atomic():
            version = append("orders.order-1", [placed(1)], expected_version=0)
            first_appended.set()
            release_first.wait(timeout=20)
        return version

    first_thread = in_thread(first, results)
    assert first_appended.wait(timeout=10)
    try:
        # Not blocked by the open append: it commits while the first is still in flight.
        assert append("orders.order-2", [placed(2)], expected_version=0) == 1
    finally:
        release_first.set()
        first_thread.join(timeout=10)
    assert results == [1]


def test_a_reader_never_sees_a_position_past_one_still_in_flight() -> None:
    first_appended, release_first = threading.Event(), threading.Event()
    results: list[Any] = []

    def first() -> int:
        with transaction.atomic():
            version = append("orders.order-1", [placed(1)], expected_version=0)
            first_appended.set()
            release_first.wait(timeout=20)
        return version

    first_thread = in_thread(first, results)
    assert first_appended.wait(timeout=10)
    append("orders.order-2", [placed(2)], expected_version=0)  # a later position, committed

    # A catch-up reader now waits for the open append instead of reading past its position.
    read: list[Any] = []
    reader = in_thread(lambda: [(e.stream, e.position) for e in read_all()], read)
    wait_for(_waiting_for_the_position_lock, timeout=10)
    assert read == []

    release_first.set()
    first_thread.join(timeout=10)
    reader.join(timeout=10)
    assert results == [1]
    (streams,) = read
    assert [stream for stream, _ in streams] == ["orders.order-1", "orders.order-2"]
    assert streams[0][1] < streams[1][1]


def test_a_conflict_between_open_transactions_is_reported_before_anything_is_written() -> None:
    first_appended, release_first = threading.Event(), threading.Event()
    results: list[Any] = []

    def first() -> int:
        with transaction.atomic():
            version = append("orders.order-1", [placed(1)], expected_version=0)
            first_appended.set()
            release_first.wait(timeout=20)
        return version

    def second() -> str:
        with transaction.atomic():
            try:
                append("orders.order-1", [placed(2)], expected_version=0)
            except WrongExpectedVersion as conflict:
                # The caller's transaction is still usable: read again and retry.
                again = append("orders.order-1", [placed(2)], expected_version=conflict.actual)
                return f"retried at {again}"
        return "no conflict"

    first_thread = in_thread(first, results)
    assert first_appended.wait(timeout=10)
    second_thread = in_thread(second, results)
    wait_for(_waiting_for_the_position_lock, timeout=10)  # the stream's turn
    release_first.set()
    first_thread.join(timeout=10)
    second_thread.join(timeout=10)
    assert results == [1, "retried at 2"]
    assert stream_version("orders.order-1") == 2
