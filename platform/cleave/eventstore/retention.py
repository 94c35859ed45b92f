"""Retention: the one way events leave the log, around the append-only rule, not through it.

`CLEAVE_EVENTSTORE_RETENTION_DAYS` maps stream categories to a window in days
(`{"tracking.trip": 90}`); categories not listed are kept for ever. A stream whose NEWEST event
is older than its category's window is dropped as a whole (events and snapshot), inside
`event_maintenance` (the triggers let these DELETEs through, and only these). Dropping whole
streams keeps every remaining stream complete: an aggregate is never folded from a history
with its beginning cut off, and its version numbers never restart.

What projections then mean: their read models keep what they derived from the dropped events
(a trip's distance stays), until a rebuild, which replays only what the log still holds. A
projection that must forget old data (e.g. hourly counts older than the window) does so
itself; docs/event-store.md says which is which.

Why not monthly partitions dropped whole (the issue's suggestion): PostgreSQL requires the
partition key in every unique constraint, so `(stream, stream_version)` could no longer be
unique across partitions — the database would stop guaranteeing one event per stream version
— and a partition holds a month of every stream, so dropping it would cut live streams in
half. Whole-stream deletes in batches keep both guarantees; their cost (index maintenance and
vacuum) is paid by the daily job, not by appends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cleave.eventstore.immutability import event_maintenance
from cleave.eventstore.models import StoredEvent, StoredSnapshot
from cleave.eventstore.store import alias_for_names

BATCH_STREAMS = 500


def retention_windows() -> dict[str, int]:
    windows: dict[str, int] = dict(getattr(settings, "CLEAVE_EVENTSTORE_RETENTION_DAYS", {}))
    return windows


def expired_streams(category: str, *, cutoff: datetime, limit: int) -> list[str]:
    """Streams of `category` whose newest event was recorded before `cutoff`."""
    alias = alias_for_names([category])
    return list(
        StoredEvent.objects.using(alias)
        .filter(stream__startswith=f"{category}-")
        .values("stream")
        .annotate(newest=Max("recorded_at"))
        .filter(newest__lt=cutoff)
        .order_by("stream")
        .values_list("stream", flat=True)[:limit]
    )


def retention_run(*, now: datetime | None = None) -> dict[str, int]:
    """Drop the expired streams of every category with a window; events dropped per category."""
    moment = now or timezone.now()
    dropped: dict[str, int] = {}
    for category, days in sorted(retention_windows().items()):
        alias = alias_for_names([category])
        cutoff = moment - timedelta(days=days)
        dropped[category] = 0
        while streams := expired_streams(category, cutoff=cutoff, limit=BATCH_STREAMS):
            with transaction.atomic(using=alias), event_maintenance(alias):
                deleted, _ = StoredEvent.objects.using(alias).filter(stream__in=streams).delete()
                StoredSnapshot.objects.using(alias).filter(stream__in=streams).delete()
            dropped[category] += deleted
    return dropped
