"""Ingest: tracking's upload service (what `POST /api/v1/tracking/batches` calls) from N
threads, against a floor that inserts the same event rows with psycopg alone; and the live
projections' lag while the service runs at half that rate.

The floor gets the very rows the service appended (same payload bytes: ciphertext under each
user's data key) into a copy of `cleave_event` with the same indexes and constraints (no
immutability triggers), one transaction per batch, grouped as the service appended them.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bench.tracking.common import POINTS_PER_BATCH, batch_points, percentile

FIRST_USER = 1_000_000  # ids of no real account: tracking keys everything by user id


@dataclass
class Ingested:
    points: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    # (stream, first version, last version) appended by each batch: the floor's transactions
    appended: list[tuple[str, int, int]] = field(default_factory=list)


def grant_consent(users: list[int]) -> None:
    from apps.tracking.services.consent import consent_set

    for user_id in users:
        consent_set(user_id=user_id, granted=True, changed_by=user_id, source="bench")


def _upload(user_index: int, number: int, start: datetime, tag: str) -> tuple[float, int, str]:
    """One batch through the service: (seconds, points accepted, its stream)."""
    from apps.tracking.services.devices import device_stream
    from apps.tracking.services.ingest import batch_ingest

    user_id = FIRST_USER + user_index
    session = f"bench-{user_index}"
    points = batch_points(user_index, number, start)
    began = time.perf_counter()
    result = batch_ingest(
        user_id=user_id,
        session_id=session,
        batch_id=f"{tag}-{user_index}-{number}",
        device_time=datetime.now(UTC),
        points=points,
        actions=[],
    )
    took = time.perf_counter() - began
    return took, result["accepted"]["points"], device_stream(user_id=user_id, session_id=session)


def run_service(users: int, batches: int, threads: int, start: datetime) -> Ingested:
    """`batches` uploads over `users` phones (each thread its own phones), as fast as it goes."""
    from django.db import connections

    from cleave.eventstore import stream_version

    out = Ingested()
    lock = threading.Lock()
    per_user = batches // users

    def work(mine: list[int]) -> None:
        versions: dict[str, int] = {}
        for number in range(per_user):
            for user_index in mine:
                took, accepted, stream = _upload(user_index, number, start, "ingest")
                now = stream_version(stream)  # outside the timed call
                with lock:
                    out.points += accepted
                    out.latencies.append(took)
                    out.appended.append((stream, versions.get(stream, 0) + 1, now))
                versions[stream] = now
        connections.close_all()

    out.seconds = _threads(threads, users, work)
    return out


def _threads(threads: int, users: int, work: Callable[[list[int]], None]) -> float:
    """Run `work` on `threads` threads (users split between them); the wall time. A thread's
    error fails the run: a number measured without it would be wrong."""
    chunks = [list(range(users))[i::threads] for i in range(threads)]
    errors: list[BaseException] = []

    def guarded(chunk: list[int]) -> None:
        try:
            work(chunk)
        except BaseException as error:
            errors.append(error)
            raise

    workers = [threading.Thread(target=guarded, args=(chunk,)) for chunk in chunks if chunk]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(workers)} threads failed") from errors[0]
    return time.perf_counter() - began


def run_floor(appended: list[tuple[str, int, int]], threads: int, points: int) -> Ingested:
    """The same rows by psycopg alone: one transaction per batch, `threads` connections."""
    import psycopg
    from psycopg.types.json import Jsonb

    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_floor_event")
        conn.execute(
            "CREATE TABLE bench_floor_event (LIKE cleave_event INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
        # Its own numbering (LIKE would share cleave_event's sequence).
        conn.execute("ALTER TABLE bench_floor_event ALTER COLUMN id DROP DEFAULT")
        conn.execute("ALTER TABLE bench_floor_event ALTER COLUMN id ADD GENERATED BY DEFAULT "
                     "AS IDENTITY")  # fmt: skip
        rows = conn.execute(
            "SELECT stream, stream_version, type, schema_version, payload, subject, metadata "
            "FROM cleave_event WHERE stream LIKE 'tracking.device-%%'"
        ).fetchall()
    by_key = {(row[0], row[1]): row for row in rows}
    batches = [
        [by_key[(stream, version)] for version in range(first, last + 1)]
        for stream, first, last in appended
    ]
    out = Ingested(points=points)
    lock = threading.Lock()
    queue = iter(batches)
    insert = (
        "INSERT INTO bench_floor_event (stream, stream_version, type, schema_version, payload, "
        "subject, metadata, recorded_at) VALUES (%s, %s, %s, %s, %s, %s, %s, now())"
    )

    def work(_: list[int]) -> None:
        with psycopg.connect(url) as conn:
            while True:
                with lock:
                    batch = next(queue, None)
                if batch is None:
                    return
                began = time.perf_counter()
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(insert, [(*row[:6], Jsonb(row[6])) for row in batch])
                took = time.perf_counter() - began
                with lock:
                    out.latencies.append(took)

    out.seconds = _threads(threads, threads, work)
    return out


def run_lag(
    users: int, threads: int, rate_points: float, seconds: float, start_number: int,
    start: datetime,
) -> dict[str, Any]:  # fmt: skip
    """Uploads paced at `rate_points` points/s (open loop) for `seconds` while a Celery
    worker as the Procfile runs it catches the projections up (each commit queues the
    catch-up task, coalesced), and a monitor: every 100 ms it notes the log's head, and the
    time until every tracking projection's checkpoint passed it is one lag sample (commit →
    applied, plus up to the monitor's 20 ms poll)."""
    from django.db import connections

    from cleave.eventstore.models import ProjectionCheckpoint
    from cleave.eventstore.store import head_position
    from cleave.eventstore.subscriptions import catchup, clear_pending

    catchup()  # no backlog from the earlier parts
    clear_pending("default")  # a marker left by an earlier run would hold the first kick back
    rows = ProjectionCheckpoint.objects.filter(name__startswith="tracking.")
    interval = POINTS_PER_BATCH / rate_points
    counter = itertools.count()
    total = int(seconds / interval)
    lags: list[float] = []
    unapplied: list[tuple[int, float]] = []
    sampled = threading.Event()  # uploads done: no new samples, the pending ones drain

    def uploader(_: list[int]) -> None:
        while (k := next(counter)) < total:
            due = began + k * interval
            time.sleep(max(0.0, due - time.perf_counter()))
            _upload(k % users, start_number + 1 + k // users, start, "lag")
        connections.close_all()

    def monitor() -> None:
        pending: list[tuple[int, float]] = []
        next_sample = time.perf_counter()
        deadline = float("inf")
        while not sampled.is_set() or (pending and time.perf_counter() < deadline):
            now = time.perf_counter()
            if sampled.is_set() and deadline == float("inf"):
                deadline = now + 30  # a sample still pending then is reported as lost
            if now >= next_sample and not sampled.is_set():
                pending.append((head_position(), now))
                next_sample = now + 0.1
            low = min(rows.values_list("position", flat=True))
            now = time.perf_counter()
            lags.extend(now - at for head, at in pending if head <= low)
            pending = [(head, at) for head, at in pending if head > low]
            time.sleep(0.02)
        unapplied.extend(pending)
        connections.close_all()

    with _worker():
        # The worker is up once the projections follow an upload without this process's help.
        _upload(0, start_number, start, "lag-warmup")
        head = head_position()
        deadline = time.monotonic() + 90
        while min(rows.values_list("position", flat=True)) < head:
            if time.monotonic() > deadline:
                raise RuntimeError("the Celery worker did not catch the projections up in 90 s")
            time.sleep(0.1)
        watcher = threading.Thread(target=monitor)
        began = time.perf_counter() + 0.2
        watcher.start()
        took = _threads(threads, threads, uploader)
        sampled.set()
        watcher.join()
    return {
        "rate_points_per_s": round(total * POINTS_PER_BATCH / took),
        "samples": len(lags),
        "not_applied_after_30s": len(unapplied),
        "lag_p50_s": round(percentile(lags, 0.5), 3),
        "lag_p99_s": round(percentile(lags, 0.99), 3),
        "lag_max_s": round(max(lags, default=float("nan")), 3),
    }


@contextmanager
def _worker() -> Iterator[None]:
    """A Celery worker on the default queue, as the Procfile's `worker` (2 processes)."""
    from cleave.testing.processes import BIN, ROOT, process_env, stop_process

    command = [str(BIN / "celery"), "-A", "cleave.celery", "worker", "--queues", "celery",
               "--concurrency", "2", "--loglevel", "WARNING",
               "--hostname", f"bench-tracking-{os.getpid()}@%h"]  # fmt: skip
    log_path = ROOT / "var" / "bench-tracking-worker.log"
    log_path.parent.mkdir(exist_ok=True)  # a fresh clone has no var/ yet
    log = log_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=process_env(), stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    try:
        yield
    finally:
        stop_process(process, timeout=15)
        log.close()


def summary(name: str, result: Ingested) -> dict[str, Any]:
    return {
        "system": name,
        "batches": len(result.latencies),
        "points": result.points,
        "points_per_s": round(result.points / result.seconds),
        "batch_p50_ms": round(percentile(result.latencies, 0.5) * 1000, 1),
        "batch_p99_ms": round(percentile(result.latencies, 0.99) * 1000, 1),
    }


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
