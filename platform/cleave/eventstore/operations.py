"""An operator's hands on a parked projection: retry the poison event, or skip it. Audited."""

from __future__ import annotations

from django.db import transaction

from cleave.eventstore.models import ProjectionAudit, ProjectionCheckpoint
from cleave.eventstore.projections import Projection
from cleave.eventstore.subscriptions import catchup_projection


class NotParked(LookupError):
    pass


def _unpark(projection: Projection, *, actor: str, action: str) -> None:
    alias = projection.alias
    with transaction.atomic(using=alias):
        checkpoint = (
            ProjectionCheckpoint.objects.using(alias)
            .select_for_update()
            .filter(name=projection.name)
            .first()
        )
        if checkpoint is None or checkpoint.parked_position is None:
            raise NotParked(f"projection {projection.name} is not parked")
        ProjectionAudit.objects.using(alias).create(
            projection=projection.name,
            action=action,
            position=checkpoint.parked_position,
            error=checkpoint.parked_error,
            actor=actor,
        )
        if action == ProjectionAudit.Action.SKIP:
            checkpoint.position = checkpoint.parked_position
        checkpoint.parked_position = None
        checkpoint.parked_error = ""
        checkpoint.parked_at = None
        checkpoint.save(
            using=alias,
            update_fields=["position", "parked_position", "parked_error", "parked_at"],
        )


def projection_retry(projection: Projection, *, actor: str) -> int:
    """Apply the parked event again (its cause fixed) and catch up; events applied. Parks again
    if it still fails."""
    _unpark(projection, actor=actor, action=ProjectionAudit.Action.RETRY)
    return catchup_projection(projection)


def projection_skip(projection: Projection, *, actor: str) -> int:
    """Move past the parked event without applying it, and catch up; events applied."""
    _unpark(projection, actor=actor, action=ProjectionAudit.Action.SKIP)
    return catchup_projection(projection)
