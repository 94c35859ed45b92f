"""The event store's rows in a context's data move (cleave_deploy.data): its streams' events,
their snapshots, its projections' checkpoints and audit trail, and the data keys of the
subjects its events are encrypted for.

Events get new ids in the target (its log may already hold other contexts' events), in the
source's order: ids are global positions, so the order across streams is kept, and a
projection's checkpoint, which is a position, is written to the file as an *ordinal* — how many
of the context's events lie at or before it — and turned back into the target's id of that
event on import. The canonical form (and so the manifest) carries the ordinal, which is the
same in both databases. Payloads are bound to (stream, version, type), never to the id, so they
open in the target unchanged.

Subject keys are shared by every context of a database (`user:<id>` is one key), so they are
merged rather than owned: a key the target already has must be the same key (else the moved
payloads could not be read there) and is left as it is; `--replace` never deletes one. The file
holds the keys in clear (the serializer decrypts the keyring's wrapping, the import wraps them
with the target's keyring): it is as sensitive as the personal data itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model, Q, QuerySet

from cleave.crypto.models import SubjectKey
from cleave.eventstore.immutability import event_maintenance
from cleave.eventstore.models import (
    ProjectionAudit,
    ProjectionCheckpoint,
    StoredEvent,
    StoredSnapshot,
)

# model → (the field whose "<context>." prefix says the row is the context's, row order).
# Events and audit entries by id: the order they were written in, which the import repeats.
EVENT_ROWS: dict[type[Model], tuple[str, tuple[str, ...]]] = {
    StoredEvent: ("stream", ("id",)),
    StoredSnapshot: ("stream", ("stream",)),
    ProjectionCheckpoint: ("name", ("name",)),
    ProjectionAudit: ("projection", ("id",)),
}
# Fields holding a global position, written as ordinals (see the module's docstring).
POSITIONS: dict[type[Model], tuple[str, ...]] = {
    ProjectionCheckpoint: ("position", "parked_position"),
    ProjectionAudit: ("position",),
}
SHARED: tuple[type[Model], ...] = (SubjectKey,)


def context_events(context: str, alias: str) -> QuerySet[StoredEvent]:
    return StoredEvent.objects.using(alias).filter(stream__startswith=f"{context}.")


def subject_key_rows(context: str, alias: str) -> QuerySet[SubjectKey]:
    """The data keys of the subjects the context's events and snapshots are sealed for."""
    prefix = f"{context}."
    events = StoredEvent.objects.using(alias).filter(stream__startswith=prefix)
    snapshots = StoredSnapshot.objects.using(alias).filter(stream__startswith=prefix)
    return (
        SubjectKey.objects.using(alias)
        .filter(
            Q(subject__in=events.exclude(subject=None).values("subject"))
            | Q(subject__in=snapshots.exclude(subject=None).values("subject"))
        )
        .order_by("subject")
    )


def to_ordinals(model: type[Model], fields: dict[str, Any], *, context: str, alias: str) -> None:
    """Positions → how many of the context's events are at or before them (in place)."""
    for name in POSITIONS.get(model, ()):
        if fields.get(name) is not None:
            fields[name] = context_events(context, alias).filter(id__lte=fields[name]).count()


def to_positions(
    model: type[Model], rows: list[dict[str, Any]], *, context: str, alias: str
) -> None:
    """Ordinals → the target's id of that event (0 stays the log's start), in place. The
    context's events are imported before its checkpoints (plan order)."""
    names = POSITIONS.get(model, ())
    if not names:
        return
    ids = list(context_events(context, alias).order_by("id").values_list("id", flat=True))
    for row in rows:
        for name in names:
            ordinal = row["fields"].get(name)
            if ordinal is None:
                continue
            if not 0 <= ordinal <= len(ids):
                raise ValueError(f"{name} {ordinal} past the {len(ids)} events moved")
            row["fields"][name] = ids[ordinal - 1] if ordinal else 0


def shared_conflicts(rows: list[dict[str, Any]], *, alias: str) -> tuple[list[str], set[str]]:
    """For subject keys about to be merged: the subjects whose key in `alias` differs from the
    file's (problems) and those already there with the same key (to skip)."""
    wanted = {row["fields"]["subject"]: row["fields"] for row in rows}
    problems, present = [], set()
    for key in SubjectKey.objects.using(alias).filter(subject__in=wanted):
        fields = wanted[key.subject]
        forgotten = fields["forgotten_at"] is not None
        if key.data_key != fields["data_key"] or (key.forgotten_at is not None) != forgotten:
            problems.append(key.subject)
        else:
            present.add(key.subject)
    return problems, present


def delete_context_events(context: str, alias: str) -> None:
    """`--replace` of a context's log: around the append-only rule, visibly (as retention)."""
    with event_maintenance(alias):
        context_events(context, alias).delete()
