"""Event store micro-benchmark (PostgreSQL): the kernel's store vs `eventsourcing` v9 vs psycopg.

Same payloads everywhere (a phone's batch of GPS points as JSON), each append its own
transaction with an expected version, then two reads: every stream folded back (read_stream)
and the whole log scanned in pages of 1,000 (a catch-up subscriber). Systems:
  floor          psycopg alone: INSERT into a table with the same unique (stream, version)
  floor+aes      the same, each payload AES-GCM encrypted (what a per-subject key costs)
  cleave         cleave.eventstore.append / read_stream / read_all (plain payloads)
  cleave+subject the same with a subject: payloads sealed with the subject's data key
  eventsourcing  eventsourcing.postgres.PostgresApplicationRecorder (its own table; no cipher)
  es+aes         the same with its AESCipher (one key for the whole application)

Usage (real mode's PostgreSQL; creates and reuses database `--database`):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/x SECRET_KEY=… CLEAVE_ENCRYPTION_KEYS=… \\
  CLEAVE_HASH_KEY=… python bench/eventstore/run.py [--quick] [--threads 1,8]
Numbers depend on the machine's load: compare systems within one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.tests.settings"  # the example `orders` context
os.environ.setdefault("LOG_LEVEL", "WARNING")

Appender = Callable[[str, int, dict[str, Any]], None]


def payload(points: int, seed: int) -> dict[str, Any]:
    return {
        "batch_id": str(uuid.UUID(int=seed)),
        "points": [
            {
                "t": 1_765_000_000 + i,
                "lat": 48.8566 + i * 1e-5,
                "lon": 2.3522 + seed * 1e-7,
                "accuracy": 5.0,
            }
            for i in range(points)
        ],
    }


def prepare(database: str) -> dict[str, Any]:
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/eventstore needs PostgreSQL: set DATABASE_URL and REDIS_URL")
    base = url.rsplit("/", 1)[0]
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = f"{base}/{database}"
    from cleave.testing.processes import real_mode_keys

    # Real mode refuses to start without a SECRET_KEY: the environment's, else this one's own.
    for name, value in real_mode_keys("bench_eventstore").items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    db = settings.DATABASES["default"]
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor_event (id bigserial PRIMARY KEY, "
            "stream varchar(200) NOT NULL, stream_version integer NOT NULL, "
            "type varchar(200) NOT NULL, payload text NOT NULL, metadata jsonb NOT NULL, "
            "recorded_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream, stream_version))"
        )
        conn.execute("TRUNCATE bench_floor_event")
    return {k: db[k] for k in ("NAME", "HOST", "PORT", "USER", "PASSWORD")}


def run_threads(threads: int, streams: list[str], work: Callable[[list[str]], None]) -> float:
    chunks = [streams[i::threads] for i in range(threads)]
    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


# --- the systems -------------------------------------------------------------------------------
def floor_system(encrypt: bool) -> tuple[Appender, Callable[[str], int], Callable[[], int]]:
    import psycopg
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key = AESGCM(os.urandom(32))
    local = threading.local()

    def conn() -> psycopg.Connection[Any]:
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(os.environ["DATABASE_URL"])
        return local.conn  # type: ignore[no-any-return]

    def seal(text: str) -> str:
        if not encrypt:
            return text
        nonce = os.urandom(12)
        return (nonce + key.encrypt(nonce, text.encode(), None)).hex()

    def unseal(text: str) -> Any:
        if not encrypt:
            return json.loads(text)
        raw = bytes.fromhex(text)
        return json.loads(key.decrypt(raw[:12], raw[12:], None))

    def append(stream: str, version: int, data: dict[str, Any]) -> None:
        with conn().transaction():
            conn().execute(
                "INSERT INTO bench_floor_event (stream, stream_version, type, payload, metadata) "
                "VALUES (%s, %s, %s, %s, %s)",
                [
                    stream,
                    version,
                    "orders.PointsRecorded",
                    seal(json.dumps(data)),
                    '{"event_id": "x"}',
                ],
            )

    def read_stream(stream: str) -> int:
        rows = (
            conn()
            .execute(
                "SELECT payload FROM bench_floor_event WHERE stream = %s ORDER BY stream_version",
                [stream],
            )
            .fetchall()
        )
        conn().commit()
        return len([unseal(row[0]) for row in rows])

    def read_all() -> int:
        total, after = 0, 0
        while (
            rows := conn()
            .execute(
                "SELECT id, payload FROM bench_floor_event WHERE id > %s ORDER BY id LIMIT 1000",
                [after],
            )
            .fetchall()
        ):
            total += len([unseal(row[1]) for row in rows])
            after = rows[-1][0]
        conn().commit()
        return total

    return append, read_stream, read_all


def cleave_system(subject: bool) -> tuple[Appender, Callable[[str], int], Callable[[], int]]:
    from django.db import connections

    from cleave.eventstore import NewEvent, append, read_all, read_stream
    from cleave.eventstore.store import head_position

    start = head_position()

    def do_append(stream: str, version: int, data: dict[str, Any]) -> None:
        who = f"user:{stream.rsplit('-', 1)[1]}" if subject else None
        append(
            stream,
            [NewEvent("orders.PointsRecorded", data, subject=who)],
            expected_version=version - 1,
        )

    def do_read_stream(stream: str) -> int:
        return len(read_stream(stream))

    def do_read_all() -> int:
        total, after = 0, start
        while events := read_all(after_position=after, limit=1000):
            total += len(events)
            after = events[-1].position
        connections.close_all()
        return total

    return do_append, do_read_stream, do_read_all


def es_system(
    db: dict[str, Any], threads: int, cipher: bool
) -> tuple[Appender, Callable[[str], int], Callable[[], int]]:
    import base64

    from eventsourcing.cryptography import AESCipher
    from eventsourcing.persistence import StoredEvent
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
    from eventsourcing.utils import Environment

    datastore = PostgresDatastore(
        db["NAME"], db["HOST"], db["PORT"], db["USER"], db["PASSWORD"] or "",
        pool_size=threads, originator_id_type="text",
    )  # fmt: skip
    recorder = PostgresApplicationRecorder(datastore, events_table_name="bench_es_event")
    recorder.create_table()
    with datastore.get_connection() as conn:
        conn.execute("TRUNCATE bench_es_event")
    key = base64.b64encode(os.urandom(32)).decode()
    aes = AESCipher(Environment(env={"CIPHER_KEY": key})) if cipher else None

    def append(stream: str, version: int, data: dict[str, Any]) -> None:
        state = json.dumps(data).encode()
        recorder.insert_events(
            [
                StoredEvent(
                    originator_id=stream,
                    originator_version=version,
                    topic="orders:PointsRecorded",
                    state=aes.encrypt(state) if aes else state,
                )
            ]
        )

    def decode(state: bytes) -> Any:
        return json.loads(aes.decrypt(state) if aes else state)

    def read_stream(stream: str) -> int:
        return len([decode(e.state) for e in recorder.select_events(stream)])

    def read_all() -> int:
        total, start = 0, 1
        while page := recorder.select_notifications(start, 1000):
            total += len([decode(n.state) for n in page])
            start = page[-1].id + 1
        return total

    return append, read_stream, read_all


# --- the run -----------------------------------------------------------------------------------
def measure(
    name: str,
    system: tuple[Appender, Callable[[str], int], Callable[[], int]],
    *,
    streams: int,
    per_stream: int,
    points: int,
    threads: int,
) -> dict[str, Any]:
    from django.db import connections

    append, read_stream, read_all = system
    names = [f"orders.bench{uuid.uuid4().hex[:8]}-{i}" for i in range(streams)]
    data = [payload(points, i) for i in range(per_stream)]

    def appends(chunk: list[str]) -> None:
        for version in range(1, per_stream + 1):
            for stream in chunk:
                append(stream, version, data[version - 1])
        connections.close_all()

    def reads(chunk: list[str]) -> None:
        for stream in chunk:
            if read_stream(stream) != per_stream:
                raise RuntimeError(f"{name}: {stream} did not read back whole")
        connections.close_all()

    total = streams * per_stream
    append_seconds = run_threads(threads, names, appends)
    read_seconds = run_threads(threads, names, reads)
    started = time.perf_counter()
    scanned = read_all()
    scan_seconds = time.perf_counter() - started
    if scanned != total:
        raise RuntimeError(f"{name}: the scan read {scanned} events of {total}")
    return {
        "system": name,
        "threads": threads,
        "appends_per_s": round(total / append_seconds),
        "read_stream_events_per_s": round(total / read_seconds),
        "read_all_events_per_s": round(total / scan_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=400)
    parser.add_argument("--per-stream", type=int, default=5)
    parser.add_argument("--points", type=int, default=20, help="GPS points per event")
    parser.add_argument("--threads", default="1,8", help="comma-separated concurrencies")
    parser.add_argument("--database", default="cleave_bench_eventstore")
    parser.add_argument("--quick", action="store_true", help="100 streams × 3 events, 1 thread")
    parser.add_argument("--dry-run", action="store_true", help="5 streams × 2 events: start-up")
    args = parser.parse_args()
    if args.quick:
        args.streams, args.per_stream, args.threads = 100, 3, "1"
    if args.dry_run:
        args.streams, args.per_stream, args.threads = 5, 2, "1"
    db = prepare(args.database)
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        systems: list[tuple[str, Any]] = [
            ("floor", lambda: floor_system(False)),
            ("floor+aes", lambda: floor_system(True)),
            ("cleave", lambda: cleave_system(False)),
            ("cleave+subject", lambda: cleave_system(True)),
            ("eventsourcing", lambda t=threads: es_system(db, t, False)),
            ("es+aes", lambda t=threads: es_system(db, t, True)),
        ]
        for name, make in systems:
            if name.startswith("floor"):
                prepare_floor()
            result = measure(
                name,
                make(),
                streams=args.streams,
                per_stream=args.per_stream,
                points=args.points,
                threads=threads,
            )
            results.append(result)
            print(json.dumps(result), flush=True)
    print(f"\n{args.streams} streams × {args.per_stream} events of {args.points} points")
    header = ("system", "thr", "appends/s", "read_stream ev/s", "read_all ev/s")
    print("{:<15} {:>3} {:>10} {:>17} {:>14}".format(*header))
    for r in results:
        print(
            f"{r['system']:<15} {r['threads']:>3} {r['appends_per_s']:>10} "
            f"{r['read_stream_events_per_s']:>17} {r['read_all_events_per_s']:>14}"
        )


def prepare_floor() -> None:
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("TRUNCATE bench_floor_event")


if __name__ == "__main__":
    main()
