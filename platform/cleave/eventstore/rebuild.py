"""Rebuild a projection from the start of the log while its read models keep answering.

Design (docs/event-store.md, "Rebuilds"): the whole rebuild is ONE transaction — empty the
projection's read models, replay the log into them batch by batch, set the checkpoint, commit.
Until the commit every other connection keeps reading the old rows (PostgreSQL's MVCC; SQLite's
WAL snapshot), and the commit switches them to the new rows at once: the shadow copy is the
transaction's own uncommitted version of the tables. A rebuild that fails rolls back and
leaves the old read models and checkpoint exactly as they were.

Chosen over shadow tables renamed into place because it needs no DDL, no second set of model
classes pointing at other table names, and keeps indexes, constraints and grants untouched; it
works the same in both databases. Its costs: a long transaction (PostgreSQL's vacuum cannot
clean behind it while it runs) and the projection's live catch-up waits for it (it skips the
locked checkpoint and resumes after the commit).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from cleave.crypto.models import SubjectKey
from cleave.eventstore.models import ProjectionAudit, ProjectionCheckpoint
from cleave.eventstore.projections import Projection
from cleave.eventstore.store import head_position, scan
from cleave.eventstore.subscriptions import catchup_projection, ensure_checkpoint


def projection_rebuild(projection: Projection, *, actor: str, progress: Any = None) -> int:
    """Replay the whole log into `projection`; the events applied (during the rebuild and by
    the catch-up right after it). `progress` (cleave.progress.Progress) counts positions."""
    alias = projection.alias
    started = timezone.now()
    applied = 0
    ensure_checkpoint(projection)
    with transaction.atomic(using=alias):
        rows = ProjectionCheckpoint.objects.using(alias)
        # Waits for a running catch-up of this projection to commit its batch.
        checkpoint = rows.select_for_update().get(name=projection.name)
        ProjectionAudit.objects.using(alias).create(
            projection=projection.name,
            action=ProjectionAudit.Action.REBUILD,
            position=checkpoint.position,
            actor=actor,
        )
        for model in projection.read_models:
            # No ORM cascade or signals: read models are the projection's alone.
            model.objects.using(alias).all()._raw_delete(alias)  # type: ignore[attr-defined]
        if progress is not None:
            progress.total = head_position(alias)
        position = 0
        while True:
            events, covered = scan(
                after_position=position,
                limit=projection.batch_size,
                types=projection.types,
                categories=projection.categories,
                using=alias,
            )
            if covered == position:
                break
            if events:
                projection.apply(events)  # an error rolls the whole rebuild back
            applied += len(events)
            if progress is not None:
                progress.advance(covered - position)
            position = covered
        checkpoint.position = position
        checkpoint.parked_position = None
        checkpoint.parked_error = ""
        checkpoint.parked_at = None
        checkpoint.updated_at = timezone.now()
        checkpoint.save(using=alias)
    # Subjects forgotten while the rebuild ran may have been replayed before their key went.
    forgotten = SubjectKey.objects.using(alias).filter(forgotten_at__gte=started)
    for subject in forgotten.values_list("subject", flat=True):
        with transaction.atomic(using=alias):
            projection.forget(subject)
    return applied + catchup_projection(projection)
