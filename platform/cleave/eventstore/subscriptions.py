"""Catch-up: feed each projection the events after its checkpoint, batch by batch.

One batch = one transaction: lock the projection's checkpoint row, read the next events, call
`apply`, move the checkpoint, commit. A crash anywhere rolls both back, so each event reaches a
projection's read models exactly once. Two catch-ups of one projection never run at once: the
second finds the row locked and leaves (PostgreSQL `SKIP LOCKED`; SQLite has one writer).

A batch whose `apply` raises is replayed one event at a time to find the poison event: the
events before it are kept, the projection parks at it with the error, and nothing after it is
applied until an operator retries or skips it (`cleave.eventstore.operations`). A database
error (`OperationalError`: a lost connection, a deadlock, a lock timeout) blames no event: the
batch rolls back and the next round (after a commit, or the tick) tries it again.

When it runs: after the commit of every transaction that appended (embedded mode right there,
in-process, so a request's read models are up to date when it returns; real mode as a Celery
task), and on a periodic tick (beat, or embedded mode's periodic thread) that also refreshes
the lag metrics.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import traceback
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import OperationalError, connections, transaction
from django.utils import timezone

from cleave.eventstore.models import ProjectionCheckpoint, StoredEvent
from cleave.eventstore.ordering import safe_head
from cleave.eventstore.projections import Projection, registered_projections
from cleave.eventstore.records import RecordedEvent
from cleave.eventstore.store import scan

logger = logging.getLogger(__name__)

ERROR_CHARS = 4000  # of the parked error's traceback kept on the checkpoint row
PENDING_KEY = "cleave:eventstore:catchup-pending:{alias}"
# Counting a huge lag exactly at every scrape would cost more than knowing it is huge.
LAG_COUNT_CAP = 1_000_000
PENDING_SECONDS = 60  # a lost task's marker expires; the periodic tick catches up meanwhile


@dataclass
class BatchResult:
    applied: int = 0
    covered: int = 0  # the checkpoint after the batch
    parked: bool = False
    busy: bool = False  # another catch-up holds this projection
    moved: bool = False  # the checkpoint advanced (there may be more)


def ensure_checkpoint(projection: Projection) -> None:
    """Create the projection's checkpoint at 0 on first use, committed on its own when no
    transaction is open: a row inserted by an open batch would make a second catch-up wait
    on it instead of skipping it."""
    rows = ProjectionCheckpoint.objects.using(projection.alias)
    if not rows.filter(name=projection.name).exists():
        rows.bulk_create([ProjectionCheckpoint(name=projection.name)], ignore_conflicts=True)


def _locked_checkpoint(projection: Projection) -> ProjectionCheckpoint | None:
    """The projection's checkpoint row locked for the caller's transaction; None when another
    catch-up holds it (PostgreSQL's SKIP LOCKED; SQLite has one writer at a time anyway)."""
    rows = ProjectionCheckpoint.objects.using(projection.alias).select_for_update(skip_locked=True)
    return rows.filter(name=projection.name).first()


def _apply_one_by_one(
    projection: Projection, checkpoint: ProjectionCheckpoint, events: list[RecordedEvent]
) -> int:
    """After a failed batch: apply each event alone until the poison one, and park there."""
    alias = projection.alias
    for applied, event in enumerate(events):
        try:
            with transaction.atomic(using=alias):
                projection.apply([event])
        except OperationalError:
            raise  # the database failed, not the event: the whole batch is tried again later
        except Exception as error:
            logger.exception(
                "projection %s parked at position %d (%s)",
                projection.name,
                event.position,
                event.type,
            )
            checkpoint.parked_position = event.position
            checkpoint.parked_error = _describe(error)
            checkpoint.parked_at = timezone.now()
            return applied
        checkpoint.position = event.position
    raise RuntimeError(
        "a batch failed as a whole but every event applied alone"
    )  # pragma: no cover


def _describe(error: BaseException) -> str:
    text = "".join(traceback.format_exception(error))
    return text if len(text) <= ERROR_CHARS else "…" + text[-ERROR_CHARS:]


def catchup_batch(projection: Projection, *, head: int | None = None) -> BatchResult:
    """Apply the next batch of `projection` (up to `head`, a safe head already read, else
    one read now) in one transaction with its checkpoint."""
    alias = projection.alias
    ensure_checkpoint(projection)
    with transaction.atomic(using=alias):
        checkpoint = _locked_checkpoint(projection)
        if checkpoint is None:
            if not ProjectionCheckpoint.objects.using(alias).filter(name=projection.name).exists():
                raise RuntimeError(f"checkpoint of {projection.name} vanished")  # pragma: no cover
            return BatchResult(busy=True)
        if checkpoint.parked_position is not None:
            return BatchResult(covered=checkpoint.position, parked=True)
        events, covered = scan(
            after_position=checkpoint.position,
            limit=projection.batch_size,
            types=projection.types,
            categories=projection.categories,
            using=alias,
            head=head,
        )
        if covered == checkpoint.position:
            return BatchResult(covered=covered)
        result = BatchResult(moved=True)
        try:
            if events:
                with transaction.atomic(using=alias):
                    projection.apply(events)
            checkpoint.position = covered
            result.applied = len(events)
        except OperationalError:
            raise  # a lost connection, a deadlock, a lock timeout: no event is to blame
        except Exception:
            result.applied = _apply_one_by_one(projection, checkpoint, events)
            result.parked = True
        checkpoint.updated_at = timezone.now()
        checkpoint.save(
            using=alias,
            update_fields=[
                "position",
                "updated_at",
                "parked_position",
                "parked_error",
                "parked_at",
            ],
        )
        result.covered = checkpoint.position
    return result


def catchup_projection(
    projection: Projection, *, progress: object | None = None, head: int | None = None
) -> int:
    """Run `projection` up to the head of the log (or to its poison event); events applied.
    `progress` (a `cleave.progress.Progress`) is advanced by the events applied."""
    total = 0
    while True:
        result = catchup_batch(projection, head=head)
        total += result.applied
        advance = getattr(progress, "advance", None)
        if advance is not None and result.applied:
            advance(result.applied)
        if result.busy or result.parked or not result.moved:
            break
    return total


def catchup(alias: str | None = None) -> int:
    """Catch every registered projection up (those of `alias` only, if given)."""
    total = 0
    heads: dict[str, int] = {}  # one barrier per database and round, not per projection
    for projection in registered_projections():
        if alias is None or projection.alias == alias:
            if projection.alias not in heads:
                heads[projection.alias] = safe_head(projection.alias)
            try:
                total += catchup_projection(projection, head=heads[projection.alias])
            except OperationalError:
                # One projection's database trouble must not hold the others back this round.
                logger.exception("catch-up of %s failed; the next round retries", projection.name)
    return total


@dataclass(frozen=True)
class Lag:
    events: int
    seconds: float
    position: int
    head: int
    parked_position: int | None
    parked_error: str


def projection_lag(projection: Projection) -> Lag:
    """How far behind the head `projection` is. Events = events after its checkpoint (those it
    does not read included: it still scans past them), counted up to LAG_COUNT_CAP. Seconds =
    the age of the oldest event after the checkpoint, 0 when caught up. Read by the
    `cleave_projection_lag_*` gauges at scrape time and by `projections status`."""
    alias = projection.alias
    checkpoint = ProjectionCheckpoint.objects.using(alias).filter(name=projection.name).first()
    position = checkpoint.position if checkpoint else 0
    events = StoredEvent.objects.using(alias)
    head = events.order_by("-id").values_list("id", flat=True).first() or 0
    oldest = (
        events.filter(id__gt=position).order_by("id").values_list("recorded_at", flat=True).first()
    )
    return Lag(
        events=events.filter(id__gt=position)[:LAG_COUNT_CAP].count(),
        seconds=max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0,
        position=position,
        head=head,
        parked_position=checkpoint.parked_position if checkpoint else None,
        parked_error=checkpoint.parked_error if checkpoint else "",
    )


class _CatchupAfterCommit:
    """One per transaction and alias: starts catch-up once the appends committed."""

    def __init__(self, alias: str) -> None:
        self.alias = alias

    def __call__(self) -> None:
        if settings.CLEAVE_EVENTS_INPROCESS:
            try:
                catchup(self.alias)
            except Exception:
                # The events are committed; the periodic tick catches the projections up.
                logger.exception("catch-up after commit failed; the periodic tick will retry")
            return
        _kicker.kick(self.alias)


class _BackgroundKicker:
    """Real mode: queues the catch-up task from a thread, off the committing request's path
    (a Redis round trip per commit cost appends about a third of their time). Kicks that
    arrive while one is being sent are coalesced, and so are commits while a task is queued
    but not started: the task clears the marker before it reads, so it sees their events."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._pid = 0

    def kick(self, alias: str) -> None:
        if self._pid != os.getpid():  # a forked child inherits the object, not the thread
            with self._lock:
                if self._pid != os.getpid():
                    self._queue = queue.SimpleQueue()
                    threading.Thread(
                        target=self._run, name="cleave-eventstore-kick", daemon=True
                    ).start()
                    self._pid = os.getpid()
        self._queue.put(alias)

    def _run(self) -> None:
        from cleave.background import task_enqueue
        from cleave.eventstore.tasks import catchup_task

        while True:
            aliases = {self._queue.get()}
            while True:
                try:
                    aliases.add(self._queue.get_nowait())
                except queue.Empty:
                    break
            for alias in sorted(aliases):
                try:
                    if cache.add(PENDING_KEY.format(alias=alias), 1, timeout=PENDING_SECONDS):
                        task_enqueue(catchup_task, alias)
                except Exception:
                    logger.exception("queueing catch-up failed; the periodic tick will run it")


_kicker = _BackgroundKicker()


def catchup_on_commit(alias: str) -> None:
    connection = connections[alias]
    for pending in connection.run_on_commit:  # (savepoints, callback, robust)
        if isinstance(pending[1], _CatchupAfterCommit):
            return
    connection.on_commit(_CatchupAfterCommit(alias))


def clear_pending(alias: str) -> None:
    cache.delete(PENDING_KEY.format(alias=alias))
