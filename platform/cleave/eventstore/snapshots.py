"""Snapshots: a long stream's folded state at some version, so loading it reads only the tail.

One row per stream, replaced on save (a snapshot is a cache of the log, not part of it, so the
table is mutable and the log stays the truth). A subject's snapshot is sealed with its data
key like its events, and a forgotten subject's snapshot loads as None (and is deleted by
`forget_subject`, since a cache of unreadable data has no use).

`load_stream` is what an aggregate's load needs, the snapshot and the events after it, in one
statement (a UNION of the two reads) instead of two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils import timezone

from cleave.crypto.subject_keys import subject_keys
from cleave.eventstore.models import StoredEvent, StoredSnapshot
from cleave.eventstore.payloads import decode, encode, snapshot_binding
from cleave.eventstore.records import RecordedEvent, Snapshot
from cleave.eventstore.store import (
    _COLUMNS,
    Row,
    alias_for_stream,
    decode_rows,
    read_stream,
)


def save_snapshot(
    stream: str, stream_version: int, state: Mapping[str, Any], *, subject: str | None
) -> None:
    """Store `state` as `stream`'s snapshot at `stream_version`, replacing an older one (a
    snapshot older than the stored one is ignored: two writers race harmlessly)."""
    alias = alias_for_stream(stream)
    key = (
        subject_keys([subject], using=alias, create=True)[subject] if subject is not None else None
    )
    sealed = encode(
        state, subject=subject, key=key, binding=snapshot_binding(stream, stream_version)
    )
    rows = StoredSnapshot.objects.using(alias)
    updated = rows.filter(stream=stream, stream_version__lte=stream_version).update(
        stream_version=stream_version, state=sealed, subject=subject, saved_at=timezone.now()
    )
    if not updated:
        rows.bulk_create(
            [
                StoredSnapshot(
                    stream=stream, stream_version=stream_version, state=sealed, subject=subject
                )
            ],
            ignore_conflicts=True,  # a newer snapshot is already there
        )


def load_snapshot(stream: str) -> Snapshot | None:
    """The stream's snapshot, or None (never saved, or its subject was forgotten)."""
    alias = alias_for_stream(stream)
    row = StoredSnapshot.objects.using(alias).filter(stream=stream).first()
    if row is None:
        return None
    key = subject_keys([row.subject], using=alias)[row.subject] if row.subject else None
    if row.subject and key is None:
        return None
    state = decode(
        row.state,
        subject=row.subject,
        key=key,
        binding=snapshot_binding(stream, row.stream_version),
    )
    return Snapshot(stream=stream, stream_version=row.stream_version, state=state)


# The snapshot as a row of the events' shape: position 0 (no event has it), its state as the
# payload, no type, metadata or time. Raw SQL: the ORM's UNION of two querysets took longer to
# build than the database took to answer it (bench/tracking/single.py).
_LOAD = (
    "SELECT id, stream, stream_version, type, schema_version, payload, subject, metadata, "
    "recorded_at FROM cleave_event WHERE stream = %s AND stream_version > COALESCE(("
    "SELECT stream_version FROM cleave_event_snapshot WHERE stream = %s), 0) "
    "UNION ALL SELECT 0, stream, stream_version, '', 0, state, subject, NULL, NULL "
    "FROM cleave_event_snapshot WHERE stream = %s ORDER BY 3"
)


def load_stream(stream: str) -> tuple[Snapshot | None, list[RecordedEvent]]:
    """The stream's snapshot (None: never saved) and its events after it, oldest first, read
    in one statement: an aggregate folds the events onto the snapshot's state. A snapshot
    whose subject was forgotten is None, with every event of the stream after it (forgotten
    events skipped, as `read_stream` does)."""
    alias = alias_for_stream(stream)
    # `raw` converts the columns as the model's fields do (metadata, times in SQLite).
    found = StoredEvent.objects.using(alias).raw(_LOAD, [stream, stream, stream])
    rows: list[Row] = [tuple(getattr(row, name) for name in _COLUMNS) for row in found]
    keys = subject_keys({row[6] for row in rows if row[6]}, using=alias)
    if not rows or rows[0][0] != 0:
        return None, decode_rows(rows, alias=alias, skip_forgotten=True, keys=keys)
    _, _, version, _, _, state, subject, _, _ = rows[0]
    if subject and keys[subject] is None:
        return None, read_stream(stream)
    opened = decode(
        state,
        subject=subject,
        key=keys[subject] if subject else None,
        binding=snapshot_binding(stream, version),
    )
    snapshot = Snapshot(stream=stream, stream_version=version, state=opened)
    return snapshot, decode_rows(rows[1:], alias=alias, skip_forgotten=True, keys=keys)
