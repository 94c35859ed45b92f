"""Hand committed outbox rows to the subscribing contexts: Celery queues, or in-process.

One relay at a time per database hands off every pending row in outbox order: it takes a
transaction-scoped advisory lock, then claims rows with SELECT … FOR UPDATE SKIP LOCKED
(PostgreSQL), so any number of relays and sweepers can run at once without sending a row twice
or overtaking each other — two relays each sending their own rows could deliver an aggregate's
second event before its first. One broker message carries a batch for one context's queue
(`events.<context>`).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
import zlib
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.models import F
from django.utils import timezone
from opentelemetry.trace import SpanKind

from cleave.events.models import OutboxEvent
from cleave.events.routes import consumers_of
from cleave.events.subscribers import subscribers
from cleave.observability import metrics
from cleave.observability.tracing import extracted, span_from

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# How long the background relay waits for more commits when it has just sent (under load).
LINGER_SECONDS = 0.01
_LOCK_KEY = zlib.crc32(b"cleave.events.relay")


def queue_for(context: str) -> str:
    return f"events.{context}"


def relay(alias: str, *, limit: int = BATCH_SIZE) -> int:
    """Hand off up to `limit` pending rows, oldest first; return how many."""
    with transaction.atomic(using=alias):
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
        rows = list(
            OutboxEvent.objects.using(alias)
            .select_for_update(skip_locked=True)
            .filter(dispatched_at__isnull=True)
            .order_by("id")[:limit]
        )
        if not rows:
            return 0
        with span_from(
            "outbox relay",
            None,
            links=[c for c in (extracted(row.headers) for row in rows) if c is not None],
            kind=SpanKind.PRODUCER,
            attributes={"cleave.outbox.rows": len(rows), "cleave.database": alias},
        ):
            for context, items in _batches(rows).items():
                hand_off(context, items)
                metrics.relay_handoffs.labels(context).inc(len(items))
        OutboxEvent.objects.using(alias).filter(id__in=[row.pk for row in rows]).update(
            dispatched_at=timezone.now(), dispatch_attempts=F("dispatch_attempts") + 1
        )
    return len(rows)


def relay_all(alias: str, *, max_rounds: int = 100) -> int:
    """Relay until nothing is pending (bounded, so one call never runs forever)."""
    total = 0
    for _ in range(max_rounds):
        count = relay(alias)
        total += count
        if count < BATCH_SIZE:
            break
    return total


def destinations(event_type: str) -> set[str]:
    """The contexts to hand `event_type` to: this process's subscribers and, through queues,
    every context the deployment's routing table names (hosted here or not)."""
    local = subscribers.contexts_for(event_type)
    if settings.CLEAVE_EVENTS_INPROCESS:
        return local  # one process: nobody else could consume it
    return local | consumers_of(event_type)


def _batches(rows: list[OutboxEvent]) -> dict[str, list[dict[str, Any]]]:
    # Publish order (outbox id) is kept inside each context's batch.
    batches: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        for context in sorted(destinations(row.event_type)):
            batches.setdefault(context, []).append(
                {"envelope": row.envelope, "headers": row.headers, "seq": row.aggregate_seq}
            )
    return batches


def hand_off(context: str, items: list[dict[str, Any]]) -> None:
    """Deliver a batch to `context`: in-process in embedded mode, else through its queue."""
    if settings.CLEAVE_EVENTS_INPROCESS:
        from cleave.events.consumer import consume

        consume(context, items)
        return
    from cleave.events.tasks import deliver_batch

    deliver_batch.apply_async(args=(context, items), queue=queue_for(context))


class BackgroundRelay:
    """Relays after each commit from a thread, off the request's path.

    Idle, a commit is handed off at once (one thread hand-off); under load, commits that land
    while a batch is being sent go out together in the next one, so a burst costs a few broker
    messages. Rows a dying process never handed off are the sweeper's.
    """

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._settled = threading.Condition()
        self._unsent = 0  # kicks not yet handled

    def kick(self, alias: str) -> None:
        self._ensure_running()
        with self._settled:
            self._unsent += 1
        self._queue.put(alias)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every kick so far has been handled (tests: before a flush truncates the
        tables the relay reads); whether it got there within `timeout` seconds."""
        with self._settled:
            return self._settled.wait_for(lambda: self._unsent == 0, timeout=timeout)

    def _ensure_running(self) -> None:
        # A forked child (prefork workers) inherits the object but not the thread.
        if self._thread is not None and self._pid == os.getpid():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._queue = queue.SimpleQueue()
                self._unsent = 0  # a forked child has none of its parent's kicks to wait for
                self._pid = os.getpid()
                self._thread = threading.Thread(
                    target=self._run, name="cleave-outbox-relay", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        last_sent = 0.0
        while True:
            aliases, kicks = self._collect(linger=time.monotonic() - last_sent < LINGER_SECONDS)
            for alias in sorted(aliases):
                try:
                    relay_all(alias)
                except Exception:
                    logger.exception("outbox hand-off failed; the sweeper will retry")
            last_sent = time.monotonic()
            connections.close_all()
            with self._settled:
                self._unsent -= kicks
                self._settled.notify_all()

    def _collect(self, *, linger: bool) -> tuple[set[str], int]:
        """Wait for a commit, then take every other kick queued meanwhile; right after a send
        (under load), linger briefly so a burst leaves as a few large batches. The aliases,
        and how many kicks they were."""
        aliases, kicks = {self._queue.get()}, 1
        if linger:
            time.sleep(LINGER_SECONDS)
        while True:
            try:
                aliases.add(self._queue.get_nowait())
            except queue.Empty:
                return aliases, kicks
            kicks += 1


background_relay = BackgroundRelay()
