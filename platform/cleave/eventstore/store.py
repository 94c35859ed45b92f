"""Append to streams and read them back: the log's writes and reads.

Ordering for subscribers under concurrent appends: `cleave.eventstore.ordering`.

Which database: a stream belongs to the context that prefixes it (`tracking.trip-…` →
`tracking`) and lives in that context's alias (`cleave.databases.database_for`), like its
outbox, so an append commits atomically with the context's own writes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, connections, transaction
from django.db.models import Max, Q
from django.utils import timezone

from cleave.crypto.subject_keys import SubjectForgotten, subject_keys
from cleave.databases import DEFAULT, database_for
from cleave.eventstore.metadata import event_metadata
from cleave.eventstore.models import StoredEvent
from cleave.eventstore.ordering import lock_for_append, safe_head
from cleave.eventstore.payloads import decode, encode, event_binding
from cleave.eventstore.records import NewEvent, RecordedEvent, WrongExpectedVersion
from cleave.eventstore.upcasting import upcast

_COLUMNS = (
    "id",
    "stream",
    "stream_version",
    "type",
    "schema_version",
    "payload",
    "subject",
    "metadata",
    "recorded_at",
)
Row = tuple[int, str, int, str, int, str, str | None, dict[str, Any], datetime]


def context_of_name(name: str) -> str:
    """`tracking.trip-1` / `tracking.PointsRecorded` / `tracking.last_location` → `tracking`."""
    return name.split(".", 1)[0]


def alias_for_stream(stream: str) -> str:
    return database_for(context_of_name(stream))


def alias_for_names(names: Iterable[str]) -> str:
    """The one alias that stream categories or event types of one context live in."""
    aliases = {database_for(context_of_name(name)) for name in names}
    if len(aliases) > 1:
        raise ValueError(f"names from several databases ({sorted(aliases)}): read them apart")
    return aliases.pop() if aliases else DEFAULT


def stream_version(stream: str) -> int:
    """The stream's last version; 0 when it has no event."""
    alias = alias_for_stream(stream)
    found = (
        StoredEvent.objects.using(alias).filter(stream=stream).aggregate(v=Max("stream_version"))
    )
    return int(found["v"] or 0)


def append(
    stream: str,
    events: Sequence[NewEvent],
    *,
    expected_version: int | None,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """Append `events` to `stream` in the caller's transaction; the stream's new version.

    `expected_version`: 0 = the stream must not exist yet, N = it must be at N, None = any.
    A stale expectation raises WrongExpectedVersion (`stream_version_conflict`): the caller
    reads again, decides again and retries. Events with a subject are encrypted with its data
    key (made on first use); a forgotten subject's events are refused (SubjectForgotten).
    """
    if "-" not in stream or "." not in stream.split("-", 1)[0]:
        raise ValueError(f"stream {stream!r}: expected <context>.<category>-<id>")
    alias = alias_for_stream(stream)
    if connections[alias].in_atomic_block:
        # No savepoint of ours: a conflict raised here leaves the caller's transaction usable.
        return _append_here(alias, stream, events, expected_version, metadata)
    with transaction.atomic(using=alias):
        return _append_here(alias, stream, events, expected_version, metadata)


def _append_here(
    alias: str,
    stream: str,
    events: Sequence[NewEvent],
    expected_version: int | None,
    metadata: Mapping[str, Any] | None,
) -> int:
    lock_for_append(alias, stream)
    # PostgreSQL with an expected version: check it in the INSERT itself (one round trip less
    # per append; the stream's lock makes the check exact). Otherwise read the version first.
    checked_in_insert = (
        expected_version is not None and bool(events) and connections[alias].vendor == "postgresql"
    )
    if checked_in_insert:
        actual = int(expected_version or 0)
    else:
        actual = stream_version(stream)
        if expected_version is not None and expected_version != actual:
            raise WrongExpectedVersion(stream=stream, expected=expected_version, actual=actual)
    if not events:
        return actual
    keys = subject_keys(
        {event.subject for event in events if event.subject}, using=alias, create=True
    )
    now = timezone.now()
    rows = []
    for offset, (event, meta) in enumerate(
        zip(events, event_metadata(metadata, len(events)), strict=True), start=1
    ):
        version = actual + offset
        rows.append(
            StoredEvent(
                stream=stream,
                stream_version=version,
                type=event.type,
                schema_version=event.schema_version,
                payload=encode(
                    event.data,
                    subject=event.subject,
                    key=keys.get(event.subject) if event.subject else None,
                    binding=event_binding(stream, version, event.type),
                ),
                subject=event.subject,
                metadata=meta,
                recorded_at=now,
            )
        )
    if checked_in_insert:
        if not _insert_if_at(alias, stream, actual, rows):
            raise WrongExpectedVersion(
                stream=stream, expected=expected_version, actual=stream_version(stream)
            )
        from cleave.eventstore.subscriptions import catchup_on_commit

        catchup_on_commit(alias)
        return actual + len(events)
    try:
        StoredEvent.objects.using(alias).bulk_create(rows)
    except IntegrityError:
        # Only a writer around the lock (raw SQL, another tool) gets here.
        # (PostgreSQL has aborted the transaction: the caller's atomic rolls back, then retries.)
        raise WrongExpectedVersion(
            stream=stream, expected=expected_version, actual=actual
        ) from None
    from cleave.eventstore.subscriptions import catchup_on_commit

    catchup_on_commit(alias)
    return actual + len(events)


_INSERT_IF_AT = (
    "INSERT INTO cleave_event (stream, stream_version, type, schema_version, payload, subject, "
    "metadata, recorded_at) SELECT v.* FROM (VALUES {rows}) AS v WHERE (SELECT "
    "COALESCE(MAX(stream_version), 0) FROM cleave_event WHERE stream = %s) = %s"
)
_ROW = "(%s, %s::integer, %s, %s::smallint, %s, %s, %s::jsonb, %s::timestamptz)"


def _insert_if_at(alias: str, stream: str, version: int, rows: list[StoredEvent]) -> bool:
    """Insert `rows` only if `stream` is still at `version` (PostgreSQL); whether it was."""
    params: list[Any] = []
    for row in rows:
        params += [
            row.stream,
            row.stream_version,
            row.type,
            row.schema_version,
            row.payload,
            row.subject,
            json.dumps(row.metadata, cls=DjangoJSONEncoder),
            row.recorded_at,
        ]
    sql = _INSERT_IF_AT.format(rows=", ".join([_ROW] * len(rows)))
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, [*params, stream, version])
        return bool(cursor.rowcount == len(rows))


def decode_rows(
    rows: Iterable[Row],
    *,
    alias: str,
    skip_forgotten: bool,
    keys: Mapping[str, bytes | None] | None = None,
) -> list[RecordedEvent]:
    """Rows of `_COLUMNS` as events, opened with their subjects' `keys` (read when not
    given)."""
    rows = list(rows)
    if keys is None:
        keys = subject_keys({row[6] for row in rows if row[6]}, using=alias)
    events = []
    for position, stream, version, type_, schema, payload, subject, meta, at in rows:
        key = keys.get(subject) if subject else None
        if subject and key is None:
            if skip_forgotten:
                continue
            raise SubjectForgotten(subject)
        data = decode(
            payload, subject=subject, key=key, binding=event_binding(stream, version, type_)
        )
        schema, data = upcast(type_, schema, data)
        events.append(
            RecordedEvent(
                position=position,
                stream=stream,
                stream_version=version,
                type=type_,
                schema_version=schema,
                data=data,
                subject=subject,
                metadata=meta,
                recorded_at=at,
            )
        )
    return events


def read_stream(
    stream: str,
    *,
    after_version: int = 0,
    limit: int | None = None,
    skip_forgotten: bool = True,
) -> list[RecordedEvent]:
    """The stream's events after `after_version`, oldest first (a snapshot's version → the
    events to fold on top of it)."""
    alias = alias_for_stream(stream)
    query = (
        StoredEvent.objects.using(alias)
        .filter(stream=stream, stream_version__gt=after_version)
        .order_by("stream_version")
        .values_list(*_COLUMNS)
    )
    if limit is not None:
        query = query[:limit]
    return decode_rows(query, alias=alias, skip_forgotten=skip_forgotten)


def _filtered(alias: str, types: Collection[str] | None, categories: Collection[str] | None) -> Any:
    query = StoredEvent.objects.using(alias).all()
    if types is not None:
        query = query.filter(type__in=list(types))
    if categories is not None:
        where = Q(pk__in=[])
        for category in categories:
            where |= Q(stream__startswith=f"{category}-")
        query = query.filter(where)
    return query


def scan(
    *,
    after_position: int,
    limit: int,
    types: Collection[str] | None = None,
    categories: Collection[str] | None = None,
    skip_forgotten: bool = True,
    using: str | None = None,
    head: int | None = None,
) -> tuple[list[RecordedEvent], int]:
    """Like `read_all`, plus the position the read covered: past every event returned and
    every one filtered out or forgotten on the way, so a subscriber's checkpoint moves over
    them. It never reads past a position still in flight (`ordering.safe_head`, or `head`
    when the caller already has one: a catch-up round shares one barrier)."""
    alias = using or alias_for_names([*(types or ()), *(categories or ())])
    if head is None:
        head = safe_head(alias)
    if head <= after_position:
        return [], after_position
    rows = list(
        _filtered(alias, types, categories)
        .filter(id__gt=after_position, id__lte=head)
        .order_by("id")
        .values_list(*_COLUMNS)[:limit]
    )
    covered = rows[-1][0] if len(rows) == limit else head
    return decode_rows(rows, alias=alias, skip_forgotten=skip_forgotten), covered


def read_all(
    *,
    after_position: int = 0,
    limit: int = 1000,
    types: Collection[str] | None = None,
    categories: Collection[str] | None = None,
    skip_forgotten: bool = True,
    using: str | None = None,
) -> list[RecordedEvent]:
    """Events of every stream after `after_position`, in position order, at most `limit`
    (filtered by event type and stream category). `using` defaults to the database of the
    context the types/categories name (`default` when none are given)."""
    events, _ = scan(
        after_position=after_position,
        limit=limit,
        types=types,
        categories=categories,
        skip_forgotten=skip_forgotten,
        using=using,
    )
    return events


def head_position(using: str = DEFAULT) -> int:
    return int(StoredEvent.objects.using(using).aggregate(top=Max("id"))["top"] or 0)
