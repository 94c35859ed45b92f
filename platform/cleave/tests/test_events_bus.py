"""The event bus in-process (embedded mode's path, on SQLite or PostgreSQL): outbox, inbox,
retries, dead letters, ordering per aggregate, the sweeper and upcasting."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from cleave.events import PublishOutsideTransaction, captured_events, publish
from cleave.events.consumer import consume
from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent
from cleave.events.retries import replay, retry_due
from cleave.events.tasks import sweep_outbox
from cleave.tests.example.contracts import OrderPlaced
from cleave.tests.example.orders.models import Order
from cleave.tests.example.orders.services import order_place
from cleave.tests.example.shipping.models import Outage, Shipment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _in_process() -> Iterator[None]:
    with override_settings(CLEAVE_EVENTS_INPROCESS=True, CLEAVE_EVENTS_MAX_ATTEMPTS=3):
        yield


def _make_due() -> None:
    FailedDelivery.objects.filter(status="retrying").update(next_attempt_at=timezone.now())


def _placed(aggregate: str, note: str, order_id: int = 1) -> OrderPlaced:
    return OrderPlaced(aggregate_id=aggregate, order_id=order_id, total=10, note=note)


def test_rolled_back_transaction_publishes_nothing() -> None:
    with pytest.raises(RuntimeError):
        order_place(total=5, fail_after_publish=True)
    assert not Order.objects.exists()
    assert not OutboxEvent.objects.exists()
    assert not Shipment.objects.exists()


def test_publish_outside_a_transaction_raises() -> None:
    with pytest.raises(PublishOutsideTransaction, match="needs an open transaction"):
        publish(_placed("1", "x"))


def test_committed_event_reaches_the_subscriber_and_is_marked_dispatched() -> None:
    with captured_events() as events:
        order = order_place(total=42, note="gift")
    (placed,) = events
    assert isinstance(placed, OrderPlaced)
    assert placed.order_id == order.pk
    shipment = Shipment.objects.get()
    assert (shipment.order_id, shipment.total, shipment.note) == (order.pk, 42, "gift")
    assert OutboxEvent.objects.get().dispatched_at is not None
    assert InboxEntry.objects.get().subscriber == "shipping.on_order_placed"


def test_an_event_delivered_twice_has_one_effect() -> None:
    order_place(total=7)
    row = OutboxEvent.objects.get()
    consume("shipping", [{"envelope": row.envelope, "headers": row.headers}])
    consume("shipping", [{"envelope": row.envelope, "headers": row.headers}])
    assert Shipment.objects.count() == 1


def test_a_failing_subscriber_retries_then_dead_letters_and_replay_delivers() -> None:
    Outage.objects.create(note="down")
    order_place(total=1, note="down")
    failed = FailedDelivery.objects.get()
    assert (failed.status, failed.attempts) == ("retrying", 1)
    assert failed.next_attempt_at is not None
    assert failed.next_attempt_at > timezone.now()
    assert retry_due("default") == 0  # not due yet: backoff

    for expected_attempts in (2, 3):
        _make_due()
        retry_due("default")
        failed.refresh_from_db()
        assert failed.attempts == expected_attempts
    assert failed.status == "dead"
    assert "shipping is down" in failed.last_error
    assert "RuntimeError" in failed.traceback
    assert not Shipment.objects.exists()

    Outage.objects.all().delete()
    assert replay("default", [failed.pk]) == 1
    retry_due("default")
    assert Shipment.objects.count() == 1
    assert not FailedDelivery.objects.exists()


def test_later_events_of_an_aggregate_wait_behind_a_failing_one_and_keep_their_order() -> None:
    Outage.objects.create(note="first")
    with transaction.atomic():
        publish(_placed("agg-1", "first"))
        publish(_placed("agg-1", "second"))
        publish(_placed("agg-2", "other"))  # another aggregate is not held up
    assert list(Shipment.objects.values_list("note", flat=True)) == ["other"]
    assert dict(FailedDelivery.objects.values_list("status", "envelope__payload__note")) == {
        "retrying": "first",
        "held": "second",
    }

    Outage.objects.all().delete()
    _make_due()
    retry_due("default")
    assert list(Shipment.objects.order_by("id").values_list("note", flat=True)) == [
        "other",
        "first",
        "second",
    ]
    assert not FailedDelivery.objects.exists()


def test_a_permanent_error_dead_letters_at_once_and_never_blocks_later_events() -> None:
    with transaction.atomic():
        publish(_placed("agg-9", "poison"))
        publish(_placed("agg-9", "fine"))
    dead = FailedDelivery.objects.get()
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert list(Shipment.objects.values_list("note", flat=True)) == ["fine"]


def test_the_sweeper_delivers_an_event_whose_immediate_hand_off_was_lost() -> None:
    with transaction.atomic():
        publish(_placed("agg-5", "late"))
        # The process dies between commit and hand-off: its on-commit callbacks never run.
        transaction.get_connection().run_on_commit.clear()
    assert OutboxEvent.objects.get().dispatched_at is None
    assert not Shipment.objects.exists()

    assert sweep_outbox() == 1
    assert Shipment.objects.get().note == "late"
    assert sweep_outbox() == 0  # nothing is sent twice


def test_an_older_event_version_is_upcast_for_the_subscriber() -> None:
    envelope = _placed("agg-3", "ignored").envelope()
    envelope["version"] = 1
    del envelope["payload"]["note"]
    consume("shipping", [{"envelope": envelope, "headers": {}}])
    assert Shipment.objects.get().note == ""


def test_a_newer_event_version_than_the_subscriber_knows_is_a_dead_letter() -> None:
    envelope = _placed("agg-4", "x").envelope()
    envelope["version"] = 3
    consume("shipping", [{"envelope": envelope, "headers": {}}])
    assert FailedDelivery.objects.get().status == "dead"


def test_the_publishing_request_id_reaches_the_outbox_row() -> None:
    from cleave.gateway.request_id import current_request_id

    token = current_request_id.set("req-outbox-1")
    try:
        order_place(total=3)
    finally:
        current_request_id.reset(token)
    assert OutboxEvent.objects.get().headers == {"request_id": "req-outbox-1"}


def test_the_apps_traceparent_reaches_the_outbox_row_with_tracing_off() -> None:
    from cleave.observability import traceparent

    incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    with traceparent.carrying(incoming):
        order_place(total=4)
    assert OutboxEvent.objects.get().headers == {"request_id": "-", "traceparent": incoming}


def test_stored_rows_are_plain_json_envelopes() -> None:
    order_place(total=8, note="n")
    envelope = OutboxEvent.objects.get().envelope
    assert set(envelope) == {
        "event_id",
        "event_type",
        "version",
        "occurred_at",
        "aggregate_id",
        "payload",
    }
    assert envelope["payload"] == {"order_id": Order.objects.get().pk, "total": 8, "note": "n"}
    assert OrderPlaced.from_envelope(envelope).total == 8


def test_old_dispatched_rows_are_purged_after_the_retention() -> None:
    from cleave.events.tasks import purge

    order_place(total=1)
    order_place(total=2)
    OutboxEvent.objects.filter(pk=OutboxEvent.objects.earliest("pk").pk).update(
        dispatched_at=timezone.now() - timedelta(days=30)
    )
    InboxEntry.objects.update(processed_at=timezone.now() - timedelta(days=30))
    assert purge() == {"outbox": 1, "inbox": 2}
    assert OutboxEvent.objects.count() == 1


def test_a_batch_subscriber_gets_the_batch_in_order_and_each_event_once() -> None:
    from cleave.tests.example.contracts import OrderPaid
    from cleave.tests.example.shipping.models import Invoice

    with transaction.atomic():
        for n in range(5):
            publish(OrderPaid(aggregate_id="bulk", order_id=n, total=n))
    assert list(Invoice.objects.order_by("id").values_list("order_id", flat=True)) == [
        0,
        1,
        2,
        3,
        4,
    ]
    row = OutboxEvent.objects.filter(event_type="orders.order_paid").earliest("pk")
    consume("shipping", [{"envelope": row.envelope, "headers": {}}])  # a redelivery
    assert Invoice.objects.count() == 5
    assert InboxEntry.objects.filter(subscriber="shipping.on_orders_paid").count() == 5


def test_a_failing_batch_falls_back_to_one_event_at_a_time() -> None:
    from cleave.tests.example.contracts import OrderPaid
    from cleave.tests.example.shipping.models import Invoice

    with transaction.atomic():
        publish(OrderPaid(aggregate_id="a", order_id=1, total=1))
        publish(OrderPaid(aggregate_id="b", order_id=2, total=-5))  # poison
        publish(OrderPaid(aggregate_id="c", order_id=3, total=3))
    assert sorted(Invoice.objects.values_list("order_id", flat=True)) == [1, 3]
    assert FailedDelivery.objects.get().status == "dead"
