"""Order per aggregate that survives crashes: sequence numbers at publish, high-water marks at
the inbox.

The publisher numbers each (event type, aggregate) stream 1, 2, 3 … in its transaction. Each
subscriber keeps, per aggregate, the last number it applied (`InboxPosition`). A consumer that
meets number n+2 while the mark is at n holds it (a `held` failed delivery) until n+1 is applied,
whatever the broker did in between: a dead worker's batch redelivered behind later batches, a
batch retried after a database error. A hold older than `CLEAVE_EVENTS_HOLD_TIMEOUT_SECONDS`
gives up on the gap (`cleave_events_hold_timeouts_total`, alerted) and lets the stream move on; a
missing event that turns up after that is parked, never applied out of order.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.utils import timezone

from cleave.events.models import AggregateSequence, InboxPosition

StreamKey = tuple[str, str]  # (event type, aggregate id) at the publisher
Stream = tuple[str, str]  # (subscriber name, aggregate id) at a consumer


def assign_sequences(alias: str, keys: Sequence[StreamKey]) -> list[int]:
    """Number each of `keys` (in order) in its stream, in the caller's transaction.

    One upsert per distinct stream; its row lock makes a concurrent publisher of the same
    aggregate wait for this transaction, so numbers follow commit order with no gaps.
    """
    table = AggregateSequence._meta.db_table
    sql = (
        f"INSERT INTO {table} (event_type, aggregate_id, last_seq) VALUES (%s, %s, %s) "  # noqa: S608 - our own table name
        f"ON CONFLICT (event_type, aggregate_id) "
        f"DO UPDATE SET last_seq = {table}.last_seq + excluded.last_seq RETURNING last_seq"
    )
    wanted = Counter(keys)
    next_free: dict[StreamKey, int] = {}
    with connections[alias].cursor() as cursor:
        for key in sorted(wanted):  # a fixed order, so two publishers never deadlock
            cursor.execute(sql, [key[0], key[1], wanted[key]])
            row = cursor.fetchone()
            if row is None:  # RETURNING yields the row on insert and on update alike
                raise RuntimeError(f"no sequence number returned for {key}")
            next_free[key] = int(row[0]) - wanted[key] + 1
    numbers = []
    for key in keys:
        numbers.append(next_free[key])
        next_free[key] += 1
    return numbers


# One event's row in write_numbered's VALUES, typed where PostgreSQL cannot infer it.
_ROW = "(%s::int, %s::uuid, %s, %s::int, %s, %s, %s::bigint, %s::jsonb, %s::jsonb, %s::timestamptz)"
_WRITE_NUMBERED = (
    "WITH seq AS (INSERT INTO {sequences} (event_type, aggregate_id, last_seq) VALUES {keys} "
    "ON CONFLICT (event_type, aggregate_id) DO UPDATE "
    "SET last_seq = {sequences}.last_seq + excluded.last_seq "
    "RETURNING event_type, aggregate_id, last_seq) "
    "INSERT INTO {outbox} (event_id, event_type, version, context, aggregate_id, aggregate_seq, "
    "envelope, headers, created_at, dispatch_attempts) "
    "SELECT v.event_id, v.event_type, v.version, v.context, v.aggregate_id, "
    "seq.last_seq - v.after, v.envelope, v.headers, v.created_at, 0 "
    "FROM (VALUES {rows}) AS v(position, event_id, event_type, version, context, aggregate_id, "
    "after, envelope, headers, created_at) "
    "JOIN seq ON seq.event_type = v.event_type AND seq.aggregate_id = v.aggregate_id "
    "ORDER BY v.position"
)


def write_numbered(alias: str, events: Sequence[Any], headers: dict[str, str]) -> None:
    """PostgreSQL: number `events` in their streams and write their outbox rows in ONE statement
    (a data-changing CTE), in the caller's transaction.

    `assign_sequences` then a bulk insert cost two round trips, both inside the publisher's
    transaction — and so under whatever lock it holds (a message send holds its conversation's,
    which every other send to it waits for). Same numbers, same row lock on each stream (taken
    in sorted key order: no deadlocks), rows inserted in the events' order (outbox ids order
    the relay).
    """
    from cleave.events.models import OutboxEvent

    wanted = Counter((event.event_type, event.aggregate_id) for event in events)
    order = sorted(wanted)
    left = dict(wanted)
    rows: list[Any] = []
    now = timezone.now()
    for position, event in enumerate(events):
        key = (event.event_type, event.aggregate_id)
        left[key] -= 1  # this event's number: the stream's new last_seq minus those after it
        rows += [position, str(event.event_id), event.event_type, event.version]
        rows += [event.event_type.split(".", 1)[0], event.aggregate_id, left[key]]
        rows += [json.dumps(event.envelope()), json.dumps(headers), now]
    sql = _WRITE_NUMBERED.format(
        sequences=AggregateSequence._meta.db_table,
        outbox=OutboxEvent._meta.db_table,
        keys=", ".join(["(%s, %s, %s)"] * len(order)),
        rows=", ".join([_ROW] * len(events)),
    )
    params = [part for key in order for part in (key[0], key[1], wanted[key])] + rows
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != len(events):
            raise RuntimeError(f"outbox wrote {cursor.rowcount} of {len(events)} events")


@dataclass
class Verdict:
    """What to do with a batch's deliveries, per the high-water marks."""

    runnable: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    held: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    late: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)


class Positions:
    """The high-water marks of some streams, locked for the caller's transaction."""

    def __init__(self, alias: str, rows: dict[Stream, InboxPosition]) -> None:
        self.alias = alias
        self.rows = rows
        self._dirty: set[Stream] = set()

    @classmethod
    def lock(cls, alias: str, streams: Iterable[Stream]) -> Positions:
        """Create missing marks and lock all of `streams`' rows (ordered by pk, so concurrent
        consumers queue up instead of deadlocking). The caller must hold a transaction."""
        wanted = sorted(set(streams))
        if not wanted:
            return cls(alias, {})
        positions = InboxPosition.objects.using(alias)
        positions.bulk_create(
            [InboxPosition(subscriber=name, aggregate_id=aggregate) for name, aggregate in wanted],
            ignore_conflicts=True,
        )
        names = {name for name, _ in wanted}
        aggregates = {aggregate for _, aggregate in wanted}
        locked = (
            positions.select_for_update()
            .filter(subscriber__in=names, aggregate_id__in=aggregates)
            .order_by("pk")
        )
        rows = {(row.subscriber, row.aggregate_id): row for row in locked}
        return cls(alias, {stream: rows[stream] for stream in wanted})

    def applied(self, stream: Stream) -> int | None:
        row = self.rows.get(stream)
        return None if row is None else row.applied_seq

    def advance(self, stream: Stream, seq: int) -> None:
        """Move the mark up to `seq` (never back: a replayed old event leaves it)."""
        row = self.rows[stream]
        if row.applied_seq is None or seq > row.applied_seq:
            row.applied_seq = seq
            self._dirty.add(stream)

    def save(self) -> None:
        now = timezone.now()
        for stream in sorted(self._dirty):
            row = self.rows[stream]
            row.updated_at = now
            row.save(using=self.alias, update_fields=["applied_seq", "updated_at"])
        self._dirty.clear()

    def sort(self, work: list[tuple[Any, dict[str, Any]]], stream_of: Any) -> Verdict:
        """Split `work` (not yet in the inbox) into what may run now in stream order, what
        waits for an earlier event, and what came after its successors were applied.

        A stream with no mark yet starts at the first number it meets: a subscriber added after
        an aggregate's first events never waits for numbers it was not routed.
        """
        verdict = Verdict()
        expected: dict[Stream, int] = {}
        for subscriber, item in sorted(work, key=lambda pair: seq_of(pair[1]) or 0):
            seq = seq_of(item)
            stream = stream_of(subscriber, item)
            if seq is None:  # published before sequencing: order as the broker gave it
                verdict.runnable.append((subscriber, item))
                continue
            if stream not in expected:
                applied = self.applied(stream)
                expected[stream] = seq if applied is None else applied + 1
            if seq < expected[stream]:
                verdict.late.append((subscriber, item))
            elif seq == expected[stream]:
                verdict.runnable.append((subscriber, item))
                expected[stream] = seq + 1
            else:
                verdict.held.append((subscriber, item))
        return verdict


def seq_of(item: dict[str, Any]) -> int | None:
    """The item's number in its stream (None for events published before sequencing)."""
    seq = item.get("seq")
    return None if seq is None else int(seq)
