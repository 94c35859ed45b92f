"""The example context's projection over its event-sourced orders (event store tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.db import OperationalError
from django.db.models import F

from cleave.eventstore import Projection, RecordedEvent
from cleave.tests.example.orders.models import CustomerLedger


class CustomerLedgerProjection(Projection):
    """Orders and totals per customer. An event whose data says `poison` fails to apply until
    `healed` is set (the parking tests), one that says `database_down` fails like a database
    outage until then; `gate`, when set, makes apply wait for it (tests that
    read while a rebuild is in the middle)."""

    name = "orders.customer_ledger"
    categories = ("orders.order",)
    types = ("orders.OrderPlaced",)
    read_models = (CustomerLedger,)
    batch_size = 3

    def __init__(self) -> None:
        self.healed = False
        self.gate: threading.Event | None = None
        self.reached_gate = threading.Event()

    def apply(self, events: Sequence[RecordedEvent]) -> None:
        for event in events:
            if event.data.get("poison") and not self.healed:
                raise ValueError(f"cannot apply order at position {event.position}")
            if event.data.get("database_down") and not self.healed:
                raise OperationalError("the database went away")  # what psycopg raises, wrapped
            customer = str(event.data["customer"])
            CustomerLedger.objects.get_or_create(customer=customer)
            CustomerLedger.objects.filter(customer=customer).update(
                orders=F("orders") + 1, total=F("total") + int(event.data["total"])
            )
        if self.gate is not None:
            self.reached_gate.set()
            self.gate.wait(timeout=30)

    def forget(self, subject: str) -> None:
        CustomerLedger.objects.filter(customer=subject).delete()
