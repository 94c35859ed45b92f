"""Hand a saga to a runner: after the commit that made it runnable, in-process in embedded mode
(as events are), else as a Celery task on the task queue of the deployment handing it off
(`CLEAVE_TASK_QUEUE`: `celery` in the monolith, `celery.<service>` split or extracted). Only
the deployment hosting a saga's context starts, signals or sweeps it (its runs live in that
context's database), so its own `worker` runs it, in split mode exactly as in the monolith.

Not the context's `events.<context>` queue: its `events` process is one solo worker, so every
saga would wait behind every event delivery and behind every other saga's step, one at a
time (bench/ticketing/purchase_race.py: about 4 purchases a second). The `worker` pool runs
sagas side by side; two runners of one saga are kept apart by its row lock (runner).

A lost hand-off (a crash after the commit, the broker away) is not lost work: the run's
`due_at` is committed, and the sweeper hands it off again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

# How long after a hand-off the sweeper assumes it was lost and hands the saga off again.
HANDOFF_GRACE = timedelta(seconds=15)


def saga_queue() -> str:
    """The queue this deployment hands its sagas' runs to."""
    return str(settings.CELERY_TASK_DEFAULT_QUEUE)


def hand_off(saga_name: str, saga_id: UUID, *, now: datetime | None = None) -> None:
    """Run the saga now (embedded) or queue it for its context's worker (real mode)."""
    if settings.CLEAVE_EVENTS_INPROCESS:
        from cleave.sagas.runner import advance

        try:
            advance(saga_name, saga_id, now=now)
        except Exception:
            logger.exception(
                "saga %s %s: in-process run failed; the sweeper retries", saga_name, saga_id
            )
        return
    from cleave.sagas.tasks import advance_saga

    try:
        advance_saga.apply_async(args=(saga_name, str(saga_id)), queue=saga_queue())
    except Exception:
        logger.exception("saga %s %s: hand-off failed; the sweeper retries", saga_name, saga_id)


class _HandOffAfterCommit:
    """One per saga and transaction: a saga started and signalled in one transaction is handed
    off once."""

    def __init__(self, saga_name: str, saga_id: UUID) -> None:
        self.saga_name, self.saga_id = saga_name, saga_id

    def __call__(self) -> None:
        hand_off(self.saga_name, self.saga_id)


def hand_off_on_commit(saga_name: str, saga_id: UUID, *, using: str) -> None:
    connection = connections[using]
    # Django drops a callback whose savepoint rolls back, so one found here is still pending.
    for pending in connection.run_on_commit:  # (savepoints, callback, robust)
        if isinstance(pending[1], _HandOffAfterCommit) and pending[1].saga_id == saga_id:
            return
    connection.on_commit(_HandOffAfterCommit(saga_name, saga_id))
