"""The event bus in real mode: PostgreSQL outbox, Redis broker, a real Celery worker process."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test import override_settings
from django.utils import timezone

from cleave.events import publish, publish_many
from cleave.events.models import FailedDelivery, OutboxEvent
from cleave.events.relay import queue_for, relay_all
from cleave.events.tasks import deliver_batch, retry_due_deliveries, sweep_outbox
from cleave.events.testing import captured_events, wait_for_delivery
from cleave.testing.processes import wait_for
from cleave.testing.workers import celery_worker
from cleave.tests.example.contracts import OrderPlaced
from cleave.tests.example.orders.services import order_place
from cleave.tests.example.shipping.models import Outage, Shipment

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis and a worker"),
]


@pytest.fixture(scope="module")
def worker(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    from cleave.celery import app

    app.control.purge()  # messages left by an earlier, interrupted run
    test_database = settings.DATABASES["default"]["NAME"]
    url = settings.CONFIG.database
    database_url = f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{test_database}"
    env = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "cleave.tests.settings"}
    with celery_worker(queues=[queue_for("shipping"), "celery"], env=env):
        yield


@pytest.fixture
def _in_process_delivery() -> Iterator[None]:
    with override_settings(CLEAVE_EVENTS_INPROCESS=True):
        yield


def _shipments(count: int) -> bool:
    return Shipment.objects.count() >= count


def test_published_events_reach_the_subscriber_through_the_worker(worker: None) -> None:
    with captured_events() as events:
        for total in range(20):
            order_place(total=total)
    wait_for_delivery(events)
    assert sorted(Shipment.objects.values_list("total", flat=True)) == list(range(20))
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_batch_delivered_twice_has_one_effect_per_event(worker: None) -> None:
    for total in range(5):
        order_place(total=total)
    wait_for(lambda: _shipments(5))
    items = [
        {"envelope": row.envelope, "headers": row.headers} for row in OutboxEvent.objects.all()
    ]
    deliver_batch.apply_async(args=("shipping", items), queue=queue_for("shipping"))
    deliver_batch.apply_async(args=("shipping", items), queue=queue_for("shipping"))
    order_place(total=99)  # the queue is consumed in order: once this lands, so did the copies
    wait_for(lambda: Shipment.objects.filter(total=99).exists())
    assert Shipment.objects.count() == 6


def test_the_sweeper_hands_off_an_event_whose_immediate_hand_off_was_lost(worker: None) -> None:
    with transaction.atomic():
        publish(OrderPlaced(aggregate_id="swept", order_id=1, total=77, note="swept"))
        connection.run_on_commit.clear()  # the process died between commit and hand-off
    assert OutboxEvent.objects.get().dispatched_at is None
    assert sweep_outbox() == 1
    wait_for(lambda: Shipment.objects.filter(note="swept").exists())
    assert sweep_outbox() == 0


def test_a_batch_whose_database_connection_drops_mid_delivery_is_retried_not_lost(
    worker: None, tmp_path: Path
) -> None:
    # The delivery fails, then so does parking the failure (the connection is gone): the task
    # retries with the arguments it received. It once retried with the delivery's exception
    # stored in an item, which no serializer takes, and the batch was dropped (a PostgreSQL
    # restart under load lost one event in ~70: tests/faults/test_postgres_restart.py).
    marker = tmp_path / "sever-once"
    marker.touch()
    with captured_events() as events, transaction.atomic():
        publish(OrderPlaced(aggregate_id="severed", order_id=1, total=5, note=f"sever:{marker}"))
    wait_for(lambda: Shipment.objects.filter(total=5).exists(), timeout=60)
    wait_for_delivery(events)
    assert not marker.exists()  # the connection was dropped once, on the first attempt
    assert Shipment.objects.filter(total=5).count() == 1
    assert not FailedDelivery.objects.exists()


@pytest.mark.usefixtures("_in_process_delivery")
def test_concurrent_relays_hand_each_row_off_exactly_once() -> None:
    with transaction.atomic():
        publish_many(
            [OrderPlaced(aggregate_id=str(n % 7), order_id=n, total=n, note="") for n in range(600)]
        )
        connection.run_on_commit.clear()  # leave every row to the relays below

    def work() -> None:
        try:
            relay_all("default")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert set(OutboxEvent.objects.values_list("dispatch_attempts", flat=True)) == {1}
    assert Shipment.objects.count() == 600
    # Each aggregate's events were applied in publish order.
    for aggregate in range(7):
        ids = list(Shipment.objects.filter(total__in=range(aggregate, 600, 7)).order_by("id"))
        assert [s.order_id for s in ids] == sorted(s.order_id for s in ids)


def test_the_worker_parks_a_failure_retries_it_and_dead_letters_a_poison_event(
    worker: None,
) -> None:
    Outage.objects.create(note="down")
    order_place(total=5, note="down")
    order_place(total=6, note="poison")
    wait_for(lambda: FailedDelivery.objects.count() == 2)
    assert dict(FailedDelivery.objects.values_list("envelope__payload__note", "status")) == {
        "down": "retrying",
        "poison": "dead",
    }

    Outage.objects.all().delete()
    FailedDelivery.objects.filter(status="retrying").update(next_attempt_at=timezone.now())
    retry_due_deliveries.apply_async(queue="celery")  # what beat does every 2 s
    wait_for(lambda: Shipment.objects.filter(note="down").exists())
    assert list(FailedDelivery.objects.values_list("status", flat=True)) == ["dead"]
