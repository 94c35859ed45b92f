"""Hand a saga to a runner: after the commit that made it runnable, in-process in embedded mode
(as events are), else as a Celery task on its context's `events.<context>` queue — the queue
that context's worker consumes wherever it is deployed, so a saga runs in split mode exactly
as in the monolith. A lost hand-off (a crash after the commit, the broker away) is not lost
work: the run's `due_at` is committed, and the sweeper hands it off again."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import UUID

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

# How long after a hand-off the sweeper assumes it was lost and hands the saga off again.
HANDOFF_GRACE = timedelta(seconds=15)


def queue_for(saga_name: str) -> str:
    return f"events.{saga_name.split('.', 1)[0]}"


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
        advance_saga.apply_async(args=(saga_name, str(saga_id)), queue=queue_for(saga_name))
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
