"""Crypto-shredding: a subject's events and snapshots are encrypted with its own data key, and
forgetting the subject makes them unreadable although the log itself never changes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction

from cleave.crypto.cipher import DecryptionError
from cleave.crypto.models import SubjectKey
from cleave.crypto.subject_keys import subject_forget, subject_keys
from cleave.eventstore import (
    SubjectForgotten,
    append,
    forget_subject,
    load_snapshot,
    load_stream,
    read_all,
    read_stream,
    save_snapshot,
)
from cleave.eventstore.models import StoredEvent
from cleave.eventstore.payloads import decode, event_binding
from cleave.eventstore.subscriptions import catchup_projection
from cleave.testing.queries import queries_of
from cleave.tests.eventstore_fixtures import ledger, placed
from cleave.tests.example.orders.models import CustomerLedger
from cleave.tests.example.orders.projections import CustomerLedgerProjection

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["ledger"]

ALICE, BOB = "user:alice", "user:bob"
SECRET = "48.8583701"  # a coordinate, say


def dump_everything() -> str:
    """Every row of every table of the database, as text."""
    text: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            text.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(text)


def test_a_subjects_payload_is_encrypted_at_rest_and_readable_by_the_store() -> None:
    append("orders.order-1", [placed(ALICE, 1, lat=SECRET, subject=ALICE)], expected_version=0)

    stored = StoredEvent.objects.get()
    assert SECRET not in stored.payload
    assert stored.payload.startswith("s1:")
    assert read_stream("orders.order-1")[0].data["lat"] == SECRET
    assert SECRET not in dump_everything()


def test_a_sealed_payload_moved_to_another_event_fails_to_open() -> None:
    append("orders.order-1", [placed(ALICE, 1, subject=ALICE)], expected_version=0)
    append("orders.order-2", [placed(ALICE, 2, subject=ALICE)], expected_version=0)
    first, second = StoredEvent.objects.order_by("id")
    key = subject_keys([ALICE], using="default")[ALICE]
    with pytest.raises(DecryptionError):
        decode(
            first.payload,
            subject=ALICE,
            key=key,
            binding=event_binding(second.stream, second.stream_version, second.type),
        )


def test_forgetting_a_subject_leaves_no_readable_trace_of_its_data(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed(ALICE, 1, lat=SECRET, subject=ALICE)], expected_version=0)
    append("orders.order-2", [placed(BOB, 2, lat="1.5", subject=BOB)], expected_version=0)
    save_snapshot("orders.order-1", 1, {"lat": SECRET}, subject=ALICE)
    catchup_projection(ledger)
    assert set(CustomerLedger.objects.values_list("customer", flat=True)) == {ALICE, BOB}

    forget_subject(ALICE)
    forget_subject(ALICE)  # idempotent

    assert read_stream("orders.order-1") == []  # skipped
    with pytest.raises(SubjectForgotten):
        read_stream("orders.order-1", skip_forgotten=False)
    assert [e.subject for e in read_all()] == [BOB]
    assert load_snapshot("orders.order-1") is None
    assert list(CustomerLedger.objects.values_list("customer", flat=True)) == [BOB]
    assert StoredEvent.objects.count() == 2  # the log itself is untouched
    assert SECRET not in dump_everything()
    key = SubjectKey.objects.get(subject=ALICE)
    assert key.data_key is None
    assert key.forgotten_at is not None


def test_nothing_new_is_recorded_for_a_forgotten_subject() -> None:
    forget_subject(ALICE)
    with pytest.raises(SubjectForgotten):
        append("orders.order-1", [placed(ALICE, 1, subject=ALICE)], expected_version=0)
    with pytest.raises(SubjectForgotten):
        save_snapshot("orders.order-1", 1, {"lat": SECRET}, subject=ALICE)


def test_a_projection_moves_past_forgotten_events_without_applying_them(
    ledger: CustomerLedgerProjection,
) -> None:
    append("orders.order-1", [placed(ALICE, 1, subject=ALICE)], expected_version=0)
    forget_subject(ALICE)
    append("orders.order-2", [placed(BOB, 2, subject=BOB)], expected_version=0)

    catchup_projection(ledger)

    assert list(CustomerLedger.objects.values_list("customer", flat=True)) == [BOB]


def key_reads(action: Callable[[], object]) -> int:
    """Reads of subject keys in the transaction `action` runs (embedded mode's projections
    catch up after its commit, in their own transactions)."""
    _, statements = queries_of(action)
    mine = statements[: statements.index("COMMIT")]
    return sum(1 for sql in mine if sql.startswith("SELECT") and "cleave_subject_key" in sql)


def test_a_transaction_reads_a_subjects_key_once_and_the_next_reads_it_again() -> None:
    append("orders.order-1", [placed(ALICE, 1, subject=ALICE)], expected_version=0)

    def load_then_append() -> None:
        with transaction.atomic():
            (*_, last) = read_stream("orders.order-1")
            version = last.stream_version
            save_snapshot("orders.order-1", version, {"total": version}, subject=ALICE)
            append("orders.order-1", [placed(ALICE, 2, subject=ALICE)], expected_version=version)

    assert key_reads(load_then_append) == 1
    assert key_reads(load_then_append) == 1
    assert [e.data["total"] for e in read_stream("orders.order-1")] == [1, 2, 2]
    assert load_snapshot("orders.order-1") is not None


def append_then_fail(stream: str) -> None:
    with transaction.atomic():
        append(stream, [placed(ALICE, 1, subject=ALICE)], expected_version=0)
        raise RuntimeError("the savepoint, and the key made in it, roll back")


def test_a_key_made_in_a_savepoint_that_rolled_back_is_not_used_after_it() -> None:
    with transaction.atomic():
        with pytest.raises(RuntimeError):
            append_then_fail("orders.order-1")
        append("orders.order-2", [placed(ALICE, 2, subject=ALICE)], expected_version=0)

    assert [e.data["total"] for e in read_stream("orders.order-2", skip_forgotten=False)] == [2]


def test_a_subject_forgotten_in_a_transaction_gets_nothing_more_in_it() -> None:
    with transaction.atomic():
        append("orders.order-1", [placed(ALICE, 1, subject=ALICE)], expected_version=0)
        forget_subject(ALICE)
        with pytest.raises(SubjectForgotten):
            append("orders.order-1", [placed(ALICE, 2, subject=ALICE)], expected_version=1)


def test_a_stream_whose_snapshot_cannot_be_opened_loads_from_its_first_event() -> None:
    append("orders.order-1", [placed(ALICE, 1, subject=ALICE)], expected_version=0)
    append("orders.order-1", [placed(BOB, 2, subject=BOB)], expected_version=1)
    save_snapshot("orders.order-1", 2, {"total": 3}, subject=ALICE)
    append("orders.order-1", [placed(BOB, 4, subject=BOB)], expected_version=2)
    subject_forget(ALICE, using="default")  # the key only: the snapshot's row is still there

    snapshot, events = load_stream("orders.order-1")

    assert snapshot is None
    assert [(e.stream_version, e.data["total"]) for e in events] == [(2, 2), (3, 4)]
