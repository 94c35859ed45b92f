"""The event bus in real mode: PostgreSQL outbox, Redis broker, a real Celery worker process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings
from django.db import connection, transaction

from cleave.events import publish
from cleave.events.models import OutboxEvent
from cleave.events.relay import queue_for
from cleave.events.tasks import deliver_batch, sweep_outbox
from cleave.testing import celery_worker, wait_for
from cleave.tests.example.contracts import OrderPlaced
from cleave.tests.example.orders.services import order_place
from cleave.tests.example.shipping.models import Shipment

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
    with celery_worker(queues=[queue_for("shipping")], env=env):
        yield


def _shipments(count: int) -> bool:
    return Shipment.objects.count() >= count


def test_published_events_reach_the_subscriber_through_the_worker(worker: None) -> None:
    for total in range(20):
        order_place(total=total)
    wait_for(lambda: _shipments(20))
    assert sorted(Shipment.objects.values_list("total", flat=True)) == list(range(20))
    assert not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists()


def test_a_batch_delivered_twice_has_one_effect_per_event(worker: None) -> None:
    for total in range(5):
        order_place(total=total)
    wait_for(lambda: _shipments(5))
    items = [
        {"envelope": row.envelope, "headers": row.headers} for row in OutboxEvent.objects.all()
    ]
    deliver_batch.apply_async(args=["shipping", items], queue=queue_for("shipping"))
    deliver_batch.apply_async(args=["shipping", items], queue=queue_for("shipping"))
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
