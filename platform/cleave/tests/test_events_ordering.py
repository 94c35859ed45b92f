"""Order per aggregate whatever the broker does: sequence numbers at publish, the inbox's
high-water mark, holds, the hold timeout and parked late arrivals (cleave.events.sequencing).

Batches are built from the outbox rows and handed to `consume` in the order a broker might
deliver them after a crash (a dead worker's batch redelivered behind later ones) or after a
database error (a retried batch behind later ones)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from cleave.events import publish
from cleave.events.consumer import consume
from cleave.events.models import FailedDelivery, InboxPosition, OutboxEvent
from cleave.events.retries import release_overdue, release_ready, replay, retry_due
from cleave.tests.example.contracts import OrderPlaced
from cleave.tests.example.shipping.models import Shipment

pytestmark = pytest.mark.django_db(transaction=True)

SUBSCRIBER = "shipping.on_order_placed"


@pytest.fixture(autouse=True)
def _in_process() -> Iterator[None]:
    with override_settings(CLEAVE_EVENTS_INPROCESS=True, CLEAVE_EVENTS_HOLD_TIMEOUT_SECONDS=60):
        yield


def _published(*notes: tuple[str, str]) -> list[dict[str, Any]]:
    """Publish (aggregate, note) events in one transaction without handing them off; return
    them as the batch items a relay would send, in publish order."""
    with transaction.atomic():
        for aggregate, note in notes:
            publish(OrderPlaced(aggregate_id=aggregate, order_id=1, total=1, note=note))
        rows = list(OutboxEvent.objects.filter(dispatched_at__isnull=True).order_by("id"))
        # Marked handed off, so the on-commit relay leaves them to the test.
        OutboxEvent.objects.filter(id__in=[row.pk for row in rows]).update(
            dispatched_at=timezone.now()
        )
    return [{"envelope": r.envelope, "headers": r.headers, "seq": r.aggregate_seq} for r in rows]


def _publish_then_fail(aggregate: str) -> None:
    with transaction.atomic():
        publish(OrderPlaced(aggregate_id=aggregate, order_id=1, total=1, note="rolled back"))
        raise RuntimeError("the service failed after publishing")


def _notes(aggregate: str | None = None) -> list[str]:
    shipments = Shipment.objects.order_by("id").values_list("note", flat=True)
    notes = list(shipments)
    return [n for n in notes if aggregate is None or n.startswith(aggregate)]


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_each_aggregate_stream_is_numbered_without_gaps_even_across_a_rollback() -> None:
    _published(("a", "a1"), ("b", "b1"), ("a", "a2"))
    with pytest.raises(RuntimeError):
        _publish_then_fail("a")
    _published(("a", "a3"))
    numbers = OutboxEvent.objects.order_by("id").values_list("aggregate_id", "aggregate_seq")
    assert list(numbers) == [("a", 1), ("b", 1), ("a", 2), ("a", 3)]


def test_a_later_event_is_held_until_the_earlier_one_arrives_then_both_apply_in_order() -> None:
    first, second = _published(("a", "a1"), ("a", "a2"))
    consume("shipping", [first])
    consume("shipping", _published(("a", "a3")))  # overtook a2 (a2's batch was retried)
    assert _notes() == ["a1"]
    assert FailedDelivery.objects.get().status == "held"

    consume("shipping", [second])
    assert _notes() == ["a1", "a2", "a3"]
    assert not FailedDelivery.objects.exists()
    assert InboxPosition.objects.get(subscriber=SUBSCRIBER, aggregate_id="a").applied_seq == 3


def test_a_dead_workers_batch_redelivered_behind_later_ones_keeps_each_aggregate_in_order() -> None:
    items = _published(*[(aggregate, f"{aggregate}{n}") for n in range(1, 7) for aggregate in "ab"])
    consume("shipping", items[:2])  # a1, b1 applied before the crash
    killed, later = items[2:6], items[6:]  # the killed batch: a2, b2, a3, b3
    consume("shipping", later)  # the restarted worker gets the rest of the queue first
    assert _notes() == ["a1", "b1"]
    assert FailedDelivery.objects.filter(status="held").count() == len(later)

    consume("shipping", killed)  # redelivered after the visibility timeout
    assert _notes("a") == [f"a{n}" for n in range(1, 7)]
    assert _notes("b") == [f"b{n}" for n in range(1, 7)]
    assert not FailedDelivery.objects.exists()


def test_a_batch_delivered_again_while_its_successors_are_held_has_one_effect_per_event() -> None:
    items = _published(("a", "a1"), ("a", "a2"), ("a", "a3"))
    consume("shipping", [items[0]])
    consume("shipping", [items[2]])
    consume("shipping", [items[1]])
    consume("shipping", items)  # a duplicate of everything: the inbox absorbs it
    consume("shipping", [items[2]])  # and a late copy of a released event
    assert _notes() == ["a1", "a2", "a3"]
    assert not FailedDelivery.objects.exists()


def test_a_stream_without_a_mark_starts_at_the_first_number_it_meets() -> None:
    """A subscriber added after an aggregate's first events never waits for them."""
    items = _published(("a", "a1"), ("a", "a2"), ("a", "a3"))
    consume("shipping", items[1:])
    assert _notes() == ["a2", "a3"]
    assert not FailedDelivery.objects.filter(status="held").exists()


def test_a_hold_past_the_timeout_moves_on_counts_it_and_a_late_arrival_is_parked() -> None:
    items = _published(("a", "a1"), ("a", "a2"), ("a", "a3"), ("a", "a4"))
    consume("shipping", [items[0]])
    consume("shipping", items[2:])  # a2 never comes in time
    assert release_overdue("default") == 0  # not overdue yet
    timeouts = _counter(
        "cleave_events_hold_timeouts_total", context="shipping", subscriber=SUBSCRIBER
    )

    FailedDelivery.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert release_overdue("default") == 1
    assert _notes() == ["a1", "a3", "a4"]
    assert not FailedDelivery.objects.exists()
    assert _counter(
        "cleave_events_hold_timeouts_total", context="shipping", subscriber=SUBSCRIBER
    ) == (timeouts + 1)

    consume("shipping", [items[1]])  # it turns up after all: parked, not applied behind a4
    parked = FailedDelivery.objects.get()
    assert (parked.status, parked.aggregate_seq) == ("parked", 2)
    assert _notes() == ["a1", "a3", "a4"]

    replay("default", [parked.pk])  # the operator decides it still applies
    retry_due("default")
    assert _notes() == ["a1", "a3", "a4", "a2"]
    assert not FailedDelivery.objects.exists()


def test_a_hold_behind_a_retrying_failure_waits_for_it_past_the_timeout() -> None:
    """A failing predecessor is the retries' business: it dead-letters in its own time."""
    from cleave.tests.example.shipping.models import Outage

    Outage.objects.create(note="a1")
    items = _published(("a", "a1"), ("a", "a2"))
    consume("shipping", items)
    assert dict(FailedDelivery.objects.values_list("status", "aggregate_seq")) == {
        "retrying": 1,
        "held": 2,
    }
    FailedDelivery.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert release_overdue("default") == 0
    assert _notes() == []

    Outage.objects.all().delete()
    FailedDelivery.objects.filter(status="retrying").update(next_attempt_at=timezone.now())
    retry_due("default")
    assert _notes() == ["a1", "a2"]
    assert InboxPosition.objects.get(subscriber=SUBSCRIBER, aggregate_id="a").applied_seq == 2


def test_held_events_whose_release_was_cut_short_are_released_by_the_periodic_pass() -> None:
    """The worker died after committing a2 and before releasing what waited behind it."""
    items = _published(("a", "a1"), ("a", "a2"), ("a", "a3"))
    consume("shipping", [items[0]])
    consume("shipping", [items[2]])
    InboxPosition.objects.filter(aggregate_id="a").update(applied_seq=2)  # a2's commit, no release
    FailedDelivery.objects.update(created_at=timezone.now() - timedelta(seconds=61))
    assert release_overdue("default") == 0  # overdue but not a gap: nothing to give up on
    assert _notes() == ["a1"]

    assert release_ready("default") == 1
    assert _notes() == ["a1", "a3"]
    assert not FailedDelivery.objects.exists()


def test_a_streams_first_event_failing_holds_the_next_one_from_a_later_batch() -> None:
    from cleave.tests.example.shipping.models import Outage

    Outage.objects.create(note="a1")
    first, second = _published(("a", "a1"), ("a", "a2"))
    consume("shipping", [first])
    consume("shipping", [second])
    assert _notes() == []
    assert dict(FailedDelivery.objects.values_list("status", "aggregate_seq")) == {
        "retrying": 1,
        "held": 2,
    }

    Outage.objects.all().delete()
    FailedDelivery.objects.filter(status="retrying").update(next_attempt_at=timezone.now())
    retry_due("default")
    assert _notes() == ["a1", "a2"]
