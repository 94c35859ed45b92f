from __future__ import annotations

from typing import Any

from cleave.events import PermanentError, subscriber
from cleave.tests.example.contracts import OrderPaid, OrderPlaced
from cleave.tests.example.shipping.models import Invoice, Outage, Shipment


def _v1_to_v2(payload: dict[str, Any]) -> dict[str, Any]:
    # v1 had no note.
    return {**payload, "note": ""}


@subscriber(OrderPlaced, upcasters={1: _v1_to_v2})
def on_order_placed(event: OrderPlaced) -> None:
    if event.note == "poison":
        raise PermanentError("this order can never ship")
    # Only orders with a note can hit an outage: the benchmark's plain orders skip the query.
    if event.note and Outage.objects.filter(note=event.note).exists():
        raise RuntimeError(f"shipping is down for {event.note!r}")
    Shipment.objects.create(
        order_id=event.order_id, total=event.total, note=event.note, placed_at=event.occurred_at
    )


@subscriber(OrderPaid, batch=True)
def on_orders_paid(events: list[OrderPaid]) -> None:
    if any(event.total < 0 for event in events):
        raise PermanentError("a negative payment can never be invoiced")
    Invoice.objects.bulk_create(
        Invoice(order_id=e.order_id, total=e.total, placed_at=e.occurred_at) for e in events
    )
