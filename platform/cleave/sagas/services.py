"""Starting a saga, signalling it, cancelling it, and the staff's retry and compensate.

Each writes in the caller's transaction when there is one (a context's service starts its saga
in the same transaction as its own writes: both commit or neither), and hands the saga to a
runner once that commits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from django.db import IntegrityError, transaction
from django.utils import timezone

from cleave.databases import database_for
from cleave.errors import CleaveError
from cleave.events.tasks import hosted_aliases
from cleave.observability import metrics
from cleave.sagas.definitions import Saga, sagas
from cleave.sagas.dispatch import HANDOFF_GRACE, hand_off_on_commit
from cleave.sagas.models import SagaLogEntry, SagaRun, SagaSignal, SagaStep
from cleave.sagas.runner import CANCEL, COMPENSATE

State = SagaRun.State


class SagaNotFound(CleaveError):
    code = "saga_not_found"
    status = 404
    message_template = "Saga {saga_id} does not exist."


class SagaNotRetryable(CleaveError):
    code = "saga_not_retryable"
    status = 409
    message_template = (
        "Saga {saga_id} is {state}: only a failed saga or a step waiting for its next try can "
        "be retried."
    )


@dataclass(frozen=True)
class SagaView:
    """A saga's state as a context shows it (an order's status, say): plain values only."""

    saga_id: UUID
    saga: str
    state: str
    step: str
    reason: str
    results: dict[str, Any]
    error: str
    created_at: datetime
    finished_at: datetime | None


def saga_start(saga: Saga | str, *, input: Mapping[str, Any], saga_id: UUID | None = None) -> UUID:
    """Start `saga` with `input` (JSON) and return its id. Starting again with the same
    `saga_id` (a retried request) returns it without starting a second one."""
    definition = sagas.get(saga) if isinstance(saga, str) else saga
    alias = database_for(definition.context)
    now = timezone.now()
    first = definition.steps[0]
    with transaction.atomic(using=alias):
        run, created = SagaRun.objects.using(alias).get_or_create(
            id=saga_id or uuid4(),
            defaults={
                "saga": definition.name, "step": first.name, "input": dict(input),
                "deadline_at": now + first.deadline, "due_at": now + HANDOFF_GRACE,
            },
        )  # fmt: skip
        if created:
            SagaLogEntry.objects.using(alias).create(run=run, kind="started")
            transaction.on_commit(
                lambda: metrics.sagas_started.labels(definition.name).inc(), using=alias
            )
            hand_off_on_commit(definition.name, run.id, using=alias)
    return run.id


def saga_signal(saga_id: UUID, name: str, payload: Mapping[str, Any] | None = None) -> bool:
    """Deliver signal `name` (a payment confirmed, a webhook) to the saga. The first of a name
    counts and repeats change nothing (False): duplicated, late or out-of-order deliveries are
    safe. One that arrives before the saga waits for it is kept until it does; one that
    arrives after the saga finished is ignored (False). Names starting `cleave.` are the
    engine's own (cancel, compensate)."""
    if name.startswith("cleave."):
        raise ValueError(f"signal names starting 'cleave.' are reserved: {name}")
    run = _find(saga_id)
    if run.state in SagaRun.FINISHED:
        return False
    alias = run._state.db or "default"
    with transaction.atomic(using=alias):
        try:
            with transaction.atomic(using=alias):
                SagaSignal.objects.using(alias).create(
                    run_id=run.id, name=name, payload=dict(payload or {})
                )
        except IntegrityError:
            return False
        SagaLogEntry.objects.using(alias).create(run_id=run.id, kind="signal", detail=name)
        hand_off_on_commit(run.saga, run.id, using=alias)
    return True


def saga_cancel(saga_id: UUID, *, reason: str = "", actor: str = "") -> bool:
    """Ask the saga to stop and undo what it did (a user cancelled the order). The step being
    tried, if any, finishes first; a saga that completes before the runner sees the request
    stays completed (False when it has already finished or is compensating)."""
    return _request(saga_id, CANCEL, reason=reason, actor=actor)


def saga_compensate(saga_id: UUID, *, actor: str, reason: str = "") -> bool:
    """Staff: compensate the saga now (audited under `actor`)."""
    return _request(saga_id, COMPENSATE, reason=reason, actor=actor)


def saga_retry(saga_id: UUID, *, actor: str) -> str:
    """Staff: try again now — the step waiting for its next try, or, for a failed saga, the
    compensation that gave up (with a fresh set of tries). Audited under `actor`."""
    run = _find(saga_id)
    alias = run._state.db or "default"
    now = timezone.now()
    with transaction.atomic(using=alias):
        run = SagaRun.objects.using(alias).select_for_update(no_key=True).get(id=run.id)
        steps = SagaStep.objects.using(alias).filter(run=run)
        if run.state == State.FAILED:
            steps.filter(phase=SagaStep.Phase.COMPENSATION, status=SagaStep.Status.FAILED).update(
                status=SagaStep.Status.RUNNING, attempts=0, next_attempt_at=now
            )
            run.state = State.COMPENSATING
        elif run.state in (State.RUNNING, State.COMPENSATING):
            steps.filter(status=SagaStep.Status.RUNNING).update(next_attempt_at=now)
        else:
            raise SagaNotRetryable(details={"saga_id": str(saga_id), "state": run.state})
        run.due_at = now + HANDOFF_GRACE
        run.save(update_fields=["state", "due_at", "updated_at"])
        SagaLogEntry.objects.using(alias).create(run=run, kind="retry", step=run.step, actor=actor)
        hand_off_on_commit(run.saga, run.id, using=alias)
    return run.state


def saga_get(saga_id: UUID) -> SagaView:
    run = _find(saga_id)
    return SagaView(
        saga_id=run.id, saga=run.saga, state=run.state, step=run.step, reason=run.reason,
        results=dict(run.results), error=run.error, created_at=run.created_at,
        finished_at=run.finished_at,
    )  # fmt: skip


def _request(saga_id: UUID, name: str, *, reason: str, actor: str) -> bool:
    run = _find(saga_id)
    if run.state not in (State.RUNNING, State.WAITING):
        return False
    alias = run._state.db or "default"
    with transaction.atomic(using=alias):
        payload = {"reason": reason, "actor": actor}
        _, created = SagaSignal.objects.using(alias).get_or_create(
            run_id=run.id, name=name, defaults={"payload": payload}
        )
        SagaLogEntry.objects.using(alias).create(
            run_id=run.id,
            kind="cancel" if name == CANCEL else "compensate",
            detail=reason,
            actor=actor,
        )
        hand_off_on_commit(run.saga, run.id, using=alias)
    return created


def _find(saga_id: UUID) -> SagaRun:
    """The run, from whichever hosted database holds it (usually just `default`)."""
    for alias in hosted_aliases():
        run = SagaRun.objects.using(alias).filter(id=saga_id).first()
        if run is not None:
            return run
    raise SagaNotFound(details={"saga_id": str(saga_id)})
