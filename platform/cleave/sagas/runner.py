"""The runner: moves one saga forward (or back) one step at a time, each step in two
transactions on the saga's own database.

1. Plan (short): lock the run, apply what happened since (a cancel, a passed deadline, a
   signal), pick the next piece of work and count the try (`attempts`), then commit — so a try
   that crashes its worker is still counted, and `due_at` tells the sweeper when to hand the
   saga off again if this worker dies.
2. Do: lock the run again (NO KEY UPDATE, so signals can still be recorded meanwhile), run the
   action or the compensation, record its result and move the saga on — one commit. A step's
   writes to its own context's tables commit with its record: exactly once. Its outside writes
   carry the step's idempotency key, so the try after a crash (before or after the effect) has
   no second effect on the other side. A second runner (a redelivered message, the sweeper)
   finds the row locked and leaves it (SKIP LOCKED); a dead worker's lock goes with its
   connection.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from cleave.databases import database_for
from cleave.observability import metrics
from cleave.sagas.definitions import Saga, Step, StepContext, StepFailed, idempotency_key, sagas
from cleave.sagas.dispatch import HANDOFF_GRACE
from cleave.sagas.faults import kill_point
from cleave.sagas.history import (
    CRASHED,
    after_commit,
    count_try,
    interrupted,
    lock_run,
    log,
    start_compensating,
)
from cleave.sagas.models import SagaRun, SagaSignal, SagaStep

logger = logging.getLogger(__name__)

State, Phase, Status = SagaRun.State, SagaStep.Phase, SagaStep.Status
# Reserved signal names: a cancel by the user's side, a compensation ordered by staff.
CANCEL, COMPENSATE = "cleave.cancel", "cleave.compensate"


@dataclass(frozen=True)
class Work:
    step: Step
    phase: str
    record_id: int
    attempt: int
    signal: Any = None

    @property
    def point(self) -> str:
        return "" if self.phase == Phase.ACTION else ":compensate"


def advance(saga_name: str, saga_id: UUID | str, *, now: datetime | None = None) -> str:
    """Run the saga as far as it can go now; return its state. `now` (tests, the sweeper in
    embedded mode) stands in for the clock when deciding deadlines and backoffs."""
    definition = sagas.get(saga_name)
    saga_id = UUID(str(saga_id))
    alias = database_for(definition.context)
    if _claim(saga_id):
        try:
            for _round in range(4 * len(definition.steps) + 4):  # a step or a transition each
                if not _turn(definition, saga_id, alias, now):
                    break
        finally:
            _release(saga_id)
    run = SagaRun.objects.using(alias).filter(id=saga_id).only("state").first()
    return run.state if run else ""


# Sagas this process is advancing. PostgreSQL's row lock keeps two runners of a saga apart
# across processes; SQLite (embedded mode: one process, a few threads) has no row locks, so
# this set does it there — and everywhere spares a nested run of a saga its own process holds.
_advancing: set[UUID] = set()
_advancing_guard = threading.Lock()


def _claim(saga_id: UUID) -> bool:
    with _advancing_guard:
        if saga_id in _advancing:
            return False
        _advancing.add(saga_id)
        return True


def _release(saga_id: UUID) -> None:
    with _advancing_guard:
        _advancing.discard(saga_id)


def _turn(definition: Saga, saga_id: UUID, alias: str, now: datetime | None) -> bool:
    """One piece of work or one transition. True when there may be more to do right away."""
    clock = now or timezone.now()
    with transaction.atomic(using=alias):
        run = lock_run(alias, saga_id)
        if run is None or run.state in (*SagaRun.FINISHED, State.FAILED):
            return False
        planned = _plan(definition, run, alias, clock)
    if not isinstance(planned, Work):
        return planned
    return _do(definition, saga_id, alias, planned, now)


def _plan(definition: Saga, run: SagaRun, alias: str, now: datetime) -> Work | bool:
    signals = {s.name: s.payload for s in SagaSignal.objects.using(alias).filter(run=run)}
    if run.state == State.COMPENSATING:
        return _plan_compensation(definition, run, alias, now)
    step = definition.step(run.step)
    for name, reason in ((COMPENSATE, "operator"), (CANCEL, "cancelled")):
        if name in signals:
            detail = str(signals[name].get("reason", "")) if isinstance(signals[name], dict) else ""
            start_compensating(run, alias, now, reason=reason, error=detail)
            return True
    if run.deadline_at is not None and run.deadline_at <= now:
        after_commit(alias, lambda: metrics.sagas_stuck.labels(definition.name, step.name).inc())
        start_compensating(
            run, alias, now, reason="timeout", error=f"{step.name} passed its deadline"
        )
        return True
    record = (
        SagaStep.objects.using(alias).filter(run=run, name=step.name, phase=Phase.ACTION).first()
    )
    if record is not None and record.next_attempt_at is not None and record.next_attempt_at > now:
        return False  # waiting for its next try (due_at brings the sweeper back then)
    if (
        record is not None
        and interrupted(run, alias, record)
        and record.attempts >= step.retry.attempts
    ):
        record.status, record.finished_at = Status.FAILED, now
        record.save(update_fields=["status", "finished_at"])
        start_compensating(run, alias, now, reason="failed", error=CRASHED.format(record.attempts))
        return True
    signal = None
    if step.wait_for is not None:
        if step.wait_for not in signals:
            if run.state != State.WAITING:
                log(alias, run, "waiting", step.name, detail=f"for signal {step.wait_for}")
            # Saved even when already waiting: a newer `updated_at` tells the sweeper the
            # signals received so far were seen (cleave.sagas.sweeper).
            run.state, run.due_at = State.WAITING, None
            run.save(update_fields=["state", "due_at", "updated_at"])
            return False
        signal = signals[step.wait_for]
    record = count_try(run, alias, step, Phase.ACTION, record, now, signal=signal)
    run.state, run.due_at = State.RUNNING, now + step.attempt_timeout + HANDOFF_GRACE
    run.save(update_fields=["state", "due_at", "updated_at"])
    return Work(step, Phase.ACTION, record.pk, record.attempts, signal)


def _plan_compensation(definition: Saga, run: SagaRun, alias: str, now: datetime) -> Work | bool:
    records = {(r.name, r.phase): r for r in SagaStep.objects.using(alias).filter(run=run)}
    for step in reversed(definition.steps):
        action = records.get((step.name, Phase.ACTION))
        # Only steps that were tried can have had an effect; each of those is undone (its
        # compensation copes with an effect that never happened).
        if action is None or step.compensation is None:
            continue
        record = records.get((step.name, Phase.COMPENSATION))
        if record is not None and record.status == Status.DONE:
            continue
        if (
            record is not None
            and record.next_attempt_at is not None
            and record.next_attempt_at > now
        ):
            return False
        if (
            record is not None
            and interrupted(run, alias, record)
            and record.attempts >= step.compensation_retry.attempts
        ):
            record.status, record.finished_at = Status.FAILED, now
            record.save(update_fields=["status", "finished_at"])
            run.state, run.due_at, run.error = State.FAILED, None, CRASHED.format(record.attempts)
            run.save(update_fields=["state", "due_at", "error", "updated_at"])
            log(alias, run, "compensation gave up", step.name, record.attempts, detail=run.error)
            failed = metrics.sagas_failed.labels(definition.name, step.name)
            after_commit(alias, failed.inc)
            return False
        record = count_try(run, alias, step, Phase.COMPENSATION, record, now)
        run.due_at = now + step.attempt_timeout + HANDOFF_GRACE
        run.save(update_fields=["due_at", "updated_at"])
        return Work(step, Phase.COMPENSATION, record.pk, record.attempts)
    run.state, run.due_at, run.deadline_at, run.finished_at = State.COMPENSATED, None, None, now
    run.save(update_fields=["state", "due_at", "deadline_at", "finished_at", "updated_at"])
    log(alias, run, "compensated", detail=run.reason)
    after_commit(alias, lambda: metrics.sagas_compensated.labels(definition.name, run.reason).inc())
    return False


def _do(definition: Saga, saga_id: UUID, alias: str, work: Work, now: datetime | None) -> bool:
    name = f"{definition.name}:{work.step.name}"
    started = time.monotonic()
    try:
        with transaction.atomic(using=alias):
            run = lock_run(alias, saga_id)
            if run is None:
                return False  # another runner has it now
            record = SagaStep.objects.using(alias).get(pk=work.record_id)
            if record.status != Status.RUNNING or record.attempts != work.attempt:
                return True  # someone else moved it on since we planned
            kill_point(f"{name}:before{work.point}")
            result = _call(definition, run, record, work)
            kill_point(f"{name}:after{work.point}")
            _done(definition, run, record, work, alias, now or timezone.now(), result)
    except StepFailed as failure:
        _failed(definition, saga_id, alias, work, failure.reason, permanent=True, now=now)
    except Exception as error:
        logger.warning("saga %s %s step %s try %d failed: %s", definition.name, saga_id,
                       work.step.name, work.attempt, error)  # fmt: skip
        text = "".join(traceback.format_exception_only(error)).strip()
        _failed(definition, saga_id, alias, work, text, permanent=False, now=now)
    finally:
        metrics.saga_step_duration.labels(definition.name, work.step.name, work.phase).observe(
            time.monotonic() - started
        )
    return True


def _call(definition: Saga, run: SagaRun, record: SagaStep, work: Work) -> Any:
    compensating = work.phase == Phase.COMPENSATION
    ctx = StepContext(
        saga_id=run.id, saga=definition.name, step=work.step.name, attempt=work.attempt,
        idempotency_key=record.idempotency_key, input=run.input, results=dict(run.results),
        signal=work.signal,
        action_key=idempotency_key(run.id, work.step.name) if compensating else "",
    )  # fmt: skip
    function = work.step.compensation if compensating else work.step.action
    if function is None:  # a waiting step without an action: its result is the signal
        return work.signal
    return function(ctx)


def _done(
    definition: Saga, run: SagaRun, record: SagaStep, work: Work, alias: str, now: datetime,
    result: Any,
) -> None:  # fmt: skip
    record.status, record.result, record.finished_at, record.error = Status.DONE, result, now, ""
    after_commit(
        alias,
        lambda: metrics.saga_steps.labels(
            definition.name, work.step.name, work.phase, "done"
        ).inc(),
    )
    if work.phase == Phase.COMPENSATION:
        record.save(using=alias, update_fields=["status", "result", "finished_at", "error"])
        log(alias, run, "compensation done", work.step.name, work.attempt)
        return
    record.save(using=alias, update_fields=["status", "result", "finished_at", "error"])
    run.results = {**run.results, work.step.name: result}
    log(alias, run, "done", work.step.name, work.attempt)
    following = definition.after(work.step.name)
    if following is None:
        run.state, run.due_at, run.deadline_at, run.finished_at = State.COMPLETED, None, None, now
        log(alias, run, "completed")
        after_commit(alias, lambda: metrics.sagas_completed.labels(definition.name).inc())
    else:
        run.step, run.state = following.name, State.RUNNING
        run.deadline_at, run.due_at = now + following.deadline, now + HANDOFF_GRACE
    run.save(using=alias)


def _failed(
    definition: Saga, saga_id: UUID, alias: str, work: Work, error: str, *, permanent: bool,
    now: datetime | None,
) -> None:  # fmt: skip
    """Schedule the next try, or give up: compensate (an action), or stop as `failed` for an
    operator (a compensation that used up its tries)."""
    clock = now or timezone.now()
    with transaction.atomic(using=alias):
        run = lock_run(alias, saga_id)
        if run is None:
            return  # another runner took it; the try stays counted
        record = SagaStep.objects.using(alias).get(pk=work.record_id)
        if record.status != Status.RUNNING or record.attempts != work.attempt:
            return
        record.error = error[:4000]
        compensating = work.phase == Phase.COMPENSATION
        policy = work.step.compensation_retry if compensating else work.step.retry
        retry_at = clock + timedelta(seconds=policy.delay(record.attempts))
        within_deadline = compensating or run.deadline_at is None or retry_at < run.deadline_at
        outcome = "retried"
        if not permanent and record.attempts < policy.attempts and within_deadline:
            record.next_attempt_at = retry_at
            run.due_at = retry_at
            run.save(update_fields=["due_at", "updated_at"])
            log(alias, run, "retry scheduled", work.step.name, work.attempt, detail=error)
        else:
            outcome = "failed"
            record.status, record.finished_at = Status.FAILED, clock
            if compensating:
                run.state, run.due_at, run.error = State.FAILED, None, error[:4000]
                run.save(update_fields=["state", "due_at", "error", "updated_at"])
                log(alias, run, "compensation gave up", work.step.name, work.attempt, detail=error)
                after_commit(
                    alias,
                    lambda: metrics.sagas_failed.labels(definition.name, work.step.name).inc(),
                )
            else:
                log(
                    alias,
                    run,
                    "declined" if permanent else "gave up",
                    work.step.name,
                    work.attempt,
                    detail=error,
                )
                reason = "declined" if permanent else "failed"
                start_compensating(run, alias, clock, reason=reason, error=error)
        record.save(
            using=alias, update_fields=["error", "next_attempt_at", "status", "finished_at"]
        )
        after_commit(
            alias,
            lambda: metrics.saga_steps.labels(
                definition.name, work.step.name, work.phase, outcome
            ).inc(),
        )
