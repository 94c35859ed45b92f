"""The kernel's event store: append-only streams, projections, crypto-shredding (issue 20).

See docs/event-store.md. A context appends its aggregates' events to streams named
`<context>.<category>-<id>` (`append` with an expected version for optimistic concurrency),
folds them back with `read_stream` (and `save_snapshot`/`load_stream` for long streams), and
feeds its read models with `Projection`s registered from its `AppConfig.ready()`. Personal
data is encrypted per subject (`NewEvent.subject`) and made unreadable by `forget_subject`.
"""

from cleave.eventstore.forgetting import forget_subject
from cleave.eventstore.projections import Projection, register_projection
from cleave.eventstore.records import (
    NewEvent,
    RecordedEvent,
    Snapshot,
    SubjectForgotten,
    WrongExpectedVersion,
)
from cleave.eventstore.snapshots import load_snapshot, load_stream, save_snapshot
from cleave.eventstore.store import append, read_all, read_stream, stream_version
from cleave.eventstore.upcasting import register_upcaster

__all__ = [
    "NewEvent",
    "Projection",
    "RecordedEvent",
    "Snapshot",
    "SubjectForgotten",
    "WrongExpectedVersion",
    "append",
    "forget_subject",
    "load_snapshot",
    "load_stream",
    "read_all",
    "read_stream",
    "register_projection",
    "register_upcaster",
    "save_snapshot",
    "stream_version",
]
