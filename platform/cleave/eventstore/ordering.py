"""Positions a catch-up subscriber can trust, while appends run concurrently.

A position is the row's id from a database sequence, and a sequence hands out numbers in call
order, not commit order: with two appends in flight, 11 can commit while 10 is still open, and
a subscriber that read up to 11 would skip 10 for ever.

PostgreSQL. Each append holds a SHARED transaction-scoped advisory lock on `POSITION_LOCK` from
before it numbers its rows until its transaction ends, so appends run side by side (and their
commits group). A reader asks for the highest position it may read (`safe_head`): it reads the
highest committed id H, then takes and at once releases the same lock EXCLUSIVELY, which waits
for every append in flight at that moment to commit or roll back. Every id at or below H was
allocated before H was read, so by an append that had finished or was in flight then: after the
barrier, ids <= H are all final (a rollback leaves a gap, never a late arrival). Appends that
start meanwhile queue behind the barrier for its few milliseconds.

Each append also takes an exclusive lock on its stream (`STREAM_LOCKS`, keyed by a hash of the
name), so two appends to one stream take turns and the second sees the first's version: a
stale `expected_version` is then reported before anything is written, and the caller's
transaction stays usable. Appends to several streams in one transaction should take them in a
fixed order (PostgreSQL breaks a deadlock by failing one of them).

SQLite (embedded mode) runs one writer at a time (IMMEDIATE transactions): the highest committed
id is safe as it is.

Rejected: one exclusive lock per append held to commit (the first version: every append in a
database committed one after another, about a tenth of the floor's throughput at 8 connections,
measured by bench/eventstore); ordering by transaction id (`xid8`), which breaks "one integer
position"; a gap timeout, which skips a slow append's events for good.
"""

from __future__ import annotations

import hashlib

from django.db import connections
from django.db.models import Max

from cleave.eventstore.models import StoredEvent

POSITION_LOCK = int.from_bytes(b"cleaveES", "big")  # pg advisory key (one bigint)
STREAM_LOCKS = int.from_bytes(b"cES1", "big")  # namespace of the (int, int) stream keys


def stream_key(stream: str) -> int:
    """A 32-bit lock key for `stream` (a collision only makes two streams take turns)."""
    return int.from_bytes(
        hashlib.blake2b(stream.encode(), digest_size=4).digest(), "big", signed=True
    )


def lock_for_append(alias: str, stream: str) -> None:
    """Enter the caller's transaction as an appender to `stream` (PostgreSQL; no-op in SQLite)."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(%s), pg_advisory_xact_lock(%s, %s)",
            [POSITION_LOCK, STREAM_LOCKS, stream_key(stream)],
        )


def safe_head(alias: str) -> int:
    """The highest position below which every position is final (see the module's note)."""
    head = int(StoredEvent.objects.using(alias).aggregate(top=Max("id"))["top"] or 0)
    connection = connections[alias]
    if connection.vendor == "postgresql" and head:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [POSITION_LOCK])
            cursor.execute("SELECT pg_advisory_unlock(%s)", [POSITION_LOCK])
    return head
