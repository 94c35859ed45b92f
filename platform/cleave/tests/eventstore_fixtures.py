"""Shared by the event store's tests: a fresh copy of the example projection for one test (the
orders example registers one at startup; a test's flags — healed, gate — stay its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cleave.eventstore import NewEvent, register_projection
from cleave.tests.example.orders.projections import CustomerLedgerProjection


@pytest.fixture
def ledger() -> Iterator[CustomerLedgerProjection]:
    projection = CustomerLedgerProjection()
    register_projection(projection)
    yield projection
    if projection.gate is not None:
        projection.gate.set()
    register_projection(CustomerLedgerProjection())


def placed(customer: str, total: int, *, subject: str | None = None, **extra: object) -> NewEvent:
    return NewEvent(
        "orders.OrderPlaced", {"customer": customer, "total": total, **extra}, subject=subject
    )
