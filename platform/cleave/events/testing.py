"""Scenario-test helpers: capture what a block published, wait until subscribers applied it.

    with captured_events() as events:
        order_place(total=12)
    wait_for_delivery(events)            # embedded: already done; real mode: waits for workers
    assert Shipment.objects.count() == 1

Both work the same in embedded mode (delivery happened after commit) and real mode (a worker
applies it later).
"""

from __future__ import annotations

from collections.abc import Iterable

from cleave.contracts.base import Event
from cleave.databases import database_for
from cleave.events.models import FailedDelivery, InboxEntry
from cleave.events.outbox import captured_events
from cleave.events.subscribers import subscribers
from cleave.testing.processes import wait_for

__all__ = ["captured_events", "wait_for_delivery"]


def wait_for_delivery(events: Iterable[Event], *, timeout: float = 20.0) -> None:
    """Block until every subscriber of each event has applied it, or recorded its failure."""
    expected = [
        (database_for(subscriber.context), subscriber.name, event.event_id)
        for event in events
        for subscriber in subscribers.for_type(event.event_type)
    ]

    def delivered() -> bool:
        return all(
            InboxEntry.objects.using(alias).filter(subscriber=name, event_id=event_id).exists()
            or FailedDelivery.objects.using(alias)
            .filter(subscriber=name, event_id=event_id)
            .exists()
            for alias, name, event_id in expected
        )

    wait_for(delivered, timeout=timeout)
