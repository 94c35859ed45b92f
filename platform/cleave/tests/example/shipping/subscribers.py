from __future__ import annotations

import os
from typing import Any

from django.db import connection

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
    if event.note.startswith("sever:") and os.path.exists(marker := event.note[6:]):
        # The database drops this worker's connection mid-delivery, once (the marker file
        # goes first): what a PostgreSQL restart does to a batch being applied.
        os.unlink(marker)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
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
