"""What one upload costs in SQL statements: every round trip is a good part of an upload's time
(docs/benchmarks.md, tracking), so the count is pinned here and a new one must be argued for."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from apps.tracking.services.consent import consent_set
from apps.tracking.services.devices import SNAPSHOT_EVERY
from apps.tracking.services.ingest import batch_ingest
from apps.tracking.services.shares import share_create
from apps.tracking.tests.conftest import at
from cleave.testing.queries import queries_of

pytestmark = pytest.mark.django_db(transaction=True)

# From BEGIN to COMMIT (the test's message lists them when the count differs).
UPLOAD_STATEMENTS = 9


def upload(number: int, points: list[dict[str, Any]]) -> dict[str, Any]:
    return batch_ingest(
        user_id=1,
        session_id="s1",
        batch_id=f"b{number}",
        device_time=timezone.now(),
        points=points,
        actions=[],
    )


def test_an_upload_to_an_open_trip_while_sharing_costs_a_fixed_number_of_statements(
    messaging: Any,
) -> None:
    # Given a user who consented, shares their location, and has a trip open on this device
    # whose stream was just snapshotted (TripStarted, then one PointsRecorded per batch)
    consent_set(user_id=1, granted=True, changed_by=1, source="test")
    share_create(sharer_id=1, recipient_id=2, minutes=30)
    for number in range(1, SNAPSHOT_EVERY):
        upload(number, [at(4 - number / 10, 48.85, 2.35 + number / 10_000)])
    # When the next batch of fresh points arrives
    result, statements = queries_of(
        lambda: upload(
            SNAPSHOT_EVERY, [at(2 - i / 100, 48.86, 2.36 + i / 10_000) for i in range(100)]
        )
    )
    # Then its transaction took this many statements, whatever the database (embedded mode's
    # projections then catch up in the same thread: the worker's work, not the upload's)
    assert result["accepted"]["points"] == 100
    assert statements[0].startswith("BEGIN")
    transaction = statements[: statements.index("COMMIT") + 1]
    listed = "\n".join(f"{n:2} {sql[:110]}" for n, sql in enumerate(transaction, start=1))
    vendor = connections["default"].vendor
    assert len(transaction) == UPLOAD_STATEMENTS, f"{vendor}:\n{listed}"
