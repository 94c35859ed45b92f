"""A saga's bookkeeping, shared by the runner's steps: the run's lock, counting a try, the
timeline, and the move to compensation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from django.db import transaction

from cleave.sagas.definitions import Step, idempotency_key
from cleave.sagas.dispatch import HANDOFF_GRACE
from cleave.sagas.models import SagaLogEntry, SagaRun, SagaStep

State, Phase, Status = SagaRun.State, SagaStep.Phase, SagaStep.Status


def lock_run(alias: str, saga_id: UUID) -> SagaRun | None:
    """The run, locked for this transaction; None when another runner holds it."""
    return (
        SagaRun.objects.using(alias)
        .select_for_update(skip_locked=True, no_key=True)
        .filter(id=saga_id)
        .first()
    )


CRASHED = "{} tries and the last did not finish (its worker died, or its try timed out)"


def interrupted(run: SagaRun, alias: str, record: SagaStep) -> bool:
    """Whether `record`'s last try started and never finished. Seen under the run's lock, which
    a live try holds throughout, so that try's worker died (or lost its connection)."""
    if record.status != Status.RUNNING or record.next_attempt_at is not None:
        return False
    log(alias, run, "interrupted", record.name, record.attempts, detail="the try never finished")
    return True


def count_try(
    run: SagaRun, alias: str, step: Step, phase: str, record: SagaStep | None, now: datetime,
    *, signal: Any = None,
) -> SagaStep:  # fmt: skip
    if record is None:
        key = idempotency_key(run.id, step.name, compensate=phase == Phase.COMPENSATION)
        command: dict[str, Any] = {"idempotency_key": key}
        if signal is not None:
            command["signal"] = signal
        record = SagaStep(
            run=run, name=step.name, phase=phase, idempotency_key=key, command=command
        )
    record.attempts += 1
    record.status, record.next_attempt_at = Status.RUNNING, None
    record.save(using=alias)
    log(
        alias,
        run,
        "attempt" if phase == Phase.ACTION else "compensating",
        step.name,
        record.attempts,
    )
    return record


def start_compensating(run: SagaRun, alias: str, now: datetime, *, reason: str, error: str) -> None:
    run.state, run.reason, run.error = State.COMPENSATING, reason, error[:4000]
    run.deadline_at, run.due_at = None, now + HANDOFF_GRACE
    run.save(
        using=alias,
        update_fields=["state", "reason", "error", "deadline_at", "due_at", "updated_at"],
    )
    log(alias, run, "compensating", run.step, detail=f"{reason}: {error}" if error else reason)


def log(
    alias: str, run: SagaRun, kind: str, step: str = "", attempt: int | None = None, *,
    detail: str = "", actor: str = "",
) -> None:  # fmt: skip
    SagaLogEntry.objects.using(alias).create(
        run=run, kind=kind, step=step, attempt=attempt, detail=detail[:4000], actor=actor
    )


def after_commit(alias: str, callback: Callable[[], object]) -> None:
    transaction.on_commit(callback, using=alias)
