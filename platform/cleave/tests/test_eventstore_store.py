"""The event store's log: appends, reads, optimistic concurrency, metadata, upcasting,
snapshots, and immutability enforced by the database itself (issue 20)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from cleave.eventstore import (
    NewEvent,
    WrongExpectedVersion,
    append,
    load_snapshot,
    load_stream,
    read_all,
    read_stream,
    register_upcaster,
    save_snapshot,
    stream_version,
)
from cleave.eventstore.models import StoredEvent
from cleave.eventstore.retention import expired_streams, retention_run
from cleave.eventstore.upcasting import unregister_upcaster
from cleave.observability import traceparent
from cleave.testing.queries import queries_of

pytestmark = pytest.mark.django_db

STREAM = "orders.order-1"


def placed(total: int = 10, **extra: Any) -> NewEvent:
    return NewEvent("orders.OrderPlaced", {"customer": "c1", "total": total, **extra})


def test_append_numbers_the_stream_and_reads_it_back_in_order() -> None:
    assert stream_version(STREAM) == 0
    assert append(STREAM, [placed(1), placed(2)], expected_version=0) == 2
    assert append(STREAM, [placed(3)], expected_version=2) == 3

    events = read_stream(STREAM)
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert [e.data["total"] for e in events] == [1, 2, 3]
    assert [e.position for e in events] == sorted(e.position for e in events)
    assert events[0].category == "orders.order"
    assert [e.data["total"] for e in read_stream(STREAM, after_version=1, limit=1)] == [2]


def test_a_stale_expected_version_is_a_conflict_in_the_one_envelope() -> None:
    append(STREAM, [placed()], expected_version=0)

    with pytest.raises(WrongExpectedVersion) as caught:
        append(STREAM, [placed()], expected_version=0)

    error = caught.value
    assert (error.code, error.status) == ("stream_version_conflict", 409)
    assert error.details == {"stream": STREAM, "expected": 0, "actual": 1}
    assert stream_version(STREAM) == 1


def test_a_conflict_leaves_the_callers_transaction_usable_for_a_retry() -> None:
    append(STREAM, [placed()], expected_version=0)
    with transaction.atomic():
        with pytest.raises(WrongExpectedVersion):
            append(STREAM, [placed()], expected_version=0)
        assert append(STREAM, [placed()], expected_version=1) == 2


def test_expected_version_none_appends_whatever_the_version() -> None:
    append(STREAM, [placed()], expected_version=None)
    assert append(STREAM, [placed()], expected_version=None) == 2


def test_a_stream_name_must_say_its_context_and_category() -> None:
    with pytest.raises(ValueError, match="context"):
        append("order-1", [placed()], expected_version=None)


def test_metadata_carries_ids_the_callers_chain_and_the_requests_trace() -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with traceparent.carrying(incoming):
        append(
            STREAM,
            [placed(), placed()],
            expected_version=0,
            metadata={"causation_id": "cmd-7", "actor": "user:1"},
        )
    first, second = read_stream(STREAM)
    assert first.metadata["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert first.metadata["causation_id"] == "cmd-7"
    assert first.metadata["correlation_id"] == second.metadata["correlation_id"] == "cmd-7"
    assert first.metadata["actor"] == "user:1"
    assert first.metadata["event_id"] != second.metadata["event_id"]


def test_read_all_filters_by_type_and_category_in_position_order() -> None:
    append("orders.order-1", [placed(1)], expected_version=0)
    append("orders.cart-1", [NewEvent("orders.CartOpened", {})], expected_version=0)
    append("orders.order-2", [placed(2), NewEvent("orders.OrderShipped", {})], expected_version=0)

    everything = read_all()
    assert [e.position for e in everything] == sorted(e.position for e in everything)
    assert len(everything) == 4
    orders = read_all(categories=["orders.order"])
    assert {e.stream for e in orders} == {"orders.order-1", "orders.order-2"}
    assert [e.type for e in read_all(types=["orders.OrderPlaced"])] == ["orders.OrderPlaced"] * 2
    after = read_all(after_position=everything[1].position, limit=1)
    assert after == [everything[2]]


@pytest.fixture
def upcasters() -> Iterator[None]:
    # v1 {"amount"} → v2 {"total"} → v3 adds a currency.
    register_upcaster("orders.OrderPlaced", 1, lambda d: {"total": d.pop("amount"), **d})
    register_upcaster("orders.OrderPlaced", 2, lambda d: {**d, "currency": "EUR"})
    yield
    unregister_upcaster("orders.OrderPlaced", 1)
    unregister_upcaster("orders.OrderPlaced", 2)


def test_old_schema_versions_are_upcast_on_read_and_stored_as_written(upcasters: None) -> None:
    append(
        STREAM,
        [
            NewEvent("orders.OrderPlaced", {"customer": "c1", "amount": 5}, schema_version=1),
            NewEvent("orders.OrderPlaced", {"customer": "c1", "total": 6}, schema_version=2),
            NewEvent("orders.OrderPlaced", {"customer": "c1", "total": 7, "currency": "USD"}, 3),
        ],
        expected_version=0,
    )
    events = read_stream(STREAM)
    assert [(e.schema_version, dict(e.data)) for e in events] == [
        (3, {"customer": "c1", "total": 5, "currency": "EUR"}),
        (3, {"customer": "c1", "total": 6, "currency": "EUR"}),
        (3, {"customer": "c1", "total": 7, "currency": "USD"}),
    ]
    stored = StoredEvent.objects.order_by("id").values_list("schema_version", flat=True)
    assert list(stored) == [1, 2, 3]


def test_a_snapshot_loads_with_its_version_and_a_newer_one_replaces_it() -> None:
    assert load_snapshot(STREAM) is None
    save_snapshot(STREAM, 10, {"total": 100}, subject=None)
    save_snapshot(STREAM, 20, {"total": 200}, subject="user:1")
    save_snapshot(STREAM, 15, {"total": 150}, subject=None)  # older than the stored one

    snapshot = load_snapshot(STREAM)
    assert snapshot is not None
    assert (snapshot.stream_version, dict(snapshot.state)) == (20, {"total": 200})


def test_load_stream_reads_the_snapshot_and_the_events_after_it_in_one_statement() -> None:
    assert load_stream(STREAM) == (None, [])
    append(STREAM, [placed(1), placed(2, subject="user:1")], expected_version=0)
    assert [e.data["total"] for e in load_stream(STREAM)[1]] == [1, 2]
    save_snapshot(STREAM, 2, {"total": 3}, subject="user:1")
    assert load_stream(STREAM) == (load_snapshot(STREAM), [])
    append(STREAM, [placed(4, subject="user:1"), placed(5)], expected_version=2)

    (snapshot, events), statements = queries_of(lambda: load_stream(STREAM))

    assert snapshot is not None
    assert (snapshot.stream_version, dict(snapshot.state)) == (2, {"total": 3})
    assert [(e.stream_version, e.data["total"]) for e in events] == [(3, 4), (4, 5)]
    assert events == read_stream(STREAM, after_version=2)
    assert len([sql for sql in statements if "cleave_event" in sql]) == 1


def test_the_database_refuses_update_of_an_event() -> None:
    append(STREAM, [placed()], expected_version=0)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE cleave_event SET payload = '{}'")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        StoredEvent.objects.update(type="orders.Other")
    assert read_stream(STREAM)[0].data["total"] == 10


def test_the_database_refuses_delete_of_an_event() -> None:
    append(STREAM, [placed()], expected_version=0)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM cleave_event")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        StoredEvent.objects.all().delete()
    assert stream_version(STREAM) == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
def test_postgresql_refuses_truncate_of_the_log() -> None:
    append(STREAM, [placed()], expected_version=0)
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE cleave_event")


@pytest.mark.django_db(transaction=True)
def test_flushing_a_test_database_goes_around_the_rule() -> None:
    append(STREAM, [placed()], expected_version=0)
    call_command("flush", interactive=False, verbosity=0)
    assert StoredEvent.objects.count() == 0
    # …and the rule holds again right after.
    append(STREAM, [placed()], expected_version=0)
    with pytest.raises(IntegrityError, match="append-only"):
        StoredEvent.objects.all().delete()


def test_retention_drops_whole_streams_idle_past_their_window_and_nothing_else(
    settings: Any,
) -> None:
    settings.CLEAVE_EVENTSTORE_RETENTION_DAYS = {"orders.order": 30}
    append("orders.order-1", [placed(1), placed(2)], expected_version=0)
    save_snapshot("orders.order-1", 2, {"total": 3}, subject=None)
    append("orders.order-2", [placed(3)], expected_version=0)
    append("orders.cart-1", [NewEvent("orders.CartOpened", {})], expected_version=0)
    now = timezone.now()

    assert retention_run(now=now + timedelta(days=29)) == {"orders.order": 0}
    assert retention_run(now=now + timedelta(days=31)) == {"orders.order": 3}

    assert stream_version("orders.order-1") == stream_version("orders.order-2") == 0
    assert load_snapshot("orders.order-1") is None
    assert stream_version("orders.cart-1") == 1  # its category has no window
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        StoredEvent.objects.all().delete()  # the way around is retention's alone


def test_retention_keeps_a_stream_whose_newest_event_is_inside_the_window(
    settings: Any,
) -> None:
    settings.CLEAVE_EVENTSTORE_RETENTION_DAYS = {"orders.order": 30}
    append("orders.order-1", [placed(1)], expected_version=0)
    first = StoredEvent.objects.get().recorded_at

    # Old and new events in one stream: cut by event it would lose its beginning; kept whole.
    cutoff_between = first + timedelta(days=30, microseconds=1)
    assert expired_streams("orders.order", cutoff=first, limit=10) == []
    assert expired_streams("orders.order", cutoff=cutoff_between, limit=10) == ["orders.order-1"]
    append("orders.order-1", [placed(2)], expected_version=1)
    newest = StoredEvent.objects.order_by("-id").first()
    assert newest is not None
    assert expired_streams("orders.order", cutoff=newest.recorded_at, limit=10) == []


def test_the_retention_command_says_what_it_dropped_or_that_nothing_is_configured(
    settings: Any,
) -> None:
    out = StringIO()
    call_command("eventstore", "retention", stdout=out)
    assert "no retention configured" in out.getvalue()

    settings.CLEAVE_EVENTSTORE_RETENTION_DAYS = {"orders.order": 0}
    append(STREAM, [placed()], expected_version=0)
    out = StringIO()
    call_command("eventstore", "retention", stdout=out)
    assert "orders.order: dropped 1 event(s) of streams idle over 0 days" in out.getvalue()
    assert stream_version(STREAM) == 0
