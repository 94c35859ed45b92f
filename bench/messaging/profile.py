"""Profile one process's message sends, real mode: where the time goes, the SQL, the round trips.

Sends go through the whole WSGI stack in this process (Django's test client: middleware, the
token check, ninja, the service) against the benchmark's PostgreSQL database and Redis, one at
a time — the uncontended path. Prints the SQL of one send and the per-send wall time, and writes
pyinstrument's profile of all of them as an SVG flame graph (bench/messaging/flame.py).

Usage (as bench/messaging/run.py; the events the sends publish are left in the outbox for the
`events` worker, or the next run's sweeper, to hand off):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cleave REDIS_URL=redis://127.0.0.1:6379/4 \\
  .venv/bin/python bench/messaging/profile.py [--sends 500] [--svg docs/send-path-flame.svg]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.messaging.flame import write_svg  # noqa: E402 - path set above
from bench.messaging.world import prepare, real_mode_urls  # noqa: E402 - path set above

BENCH_DB = "cleave_bench_messaging"


def _count_redis_round_trips() -> list[int]:
    """Count what this process writes to Redis sockets (a pipeline is one write): a benchmark's
    instrument, wrapped around redis-py's connection class for the rest of the run."""
    from redis.connection import AbstractConnection

    counter = [0]
    original = AbstractConnection.send_packed_command
    request_thread = threading.get_ident()  # not the outbox relay's thread

    def counted(self: AbstractConnection, command: object, check_health: bool = True) -> None:
        if threading.get_ident() == request_thread:
            counter[0] += 1
        original(self, command, check_health)  # type: ignore[arg-type]  # redis-py's own value

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]  # see above
    return counter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sends", type=int, default=500)
    parser.add_argument("--svg", type=Path, default=None, help="write the flame graph here")
    parser.add_argument("--database", default=BENCH_DB)
    parser.add_argument("--dry-run", action="store_true", help="set up, send once, no profile")
    args = parser.parse_args()
    real_mode_urls()
    world = prepare(args.database)
    from django.test import Client
    from pyinstrument import Profiler

    from cleave.testing.queries import queries_of

    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {world.token}")
    nonce = secrets.token_hex(4)

    def send(n: int) -> None:
        conversation = world.conversation_ids[n % len(world.conversation_ids)]
        response = client.post(
            f"/api/v1/conversations/{conversation}/messages",
            data=json.dumps({"text": f"hello {n}", "client_msg_id": f"{nonce}-{n}"}),
            content_type="application/json",
        )
        if response.status_code != 201:
            raise RuntimeError(f"send {n}: {response.status_code} {response.content!r}")

    send(-1)  # warm: the first request of a token fills caches
    _, queries = queries_of(lambda: send(-2))
    print(f"SQL of one send ({len(queries)} statements):")
    for sql in queries:
        print("  " + sql[:160])
    redis_trips = _count_redis_round_trips()
    before = redis_trips[0]
    send(-3)
    print(f"Redis round trips of one send: {redis_trips[0] - before}")
    if args.dry_run:
        return
    started_cpu, took = time.process_time(), []
    for n in range(args.sends):
        started = time.perf_counter()
        send(args.sends + n)
        took.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - started_cpu) * 1000 / args.sends
    took.sort()
    print(
        f"{args.sends} sends, one at a time, in process, no profiler: p50 "
        f"{statistics.median(took):.2f} ms, p90 {took[int(len(took) * 0.9)]:.2f} ms, "
        f"CPU {cpu_ms:.2f} ms per send (this process)"
    )
    took = []
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for n in range(args.sends):
        started = time.perf_counter()
        send(2 * args.sends + n)
        took.append((time.perf_counter() - started) * 1000)
    profiler.stop()
    took.sort()
    print(
        f"{args.sends} sends, one at a time, in process: p50 {statistics.median(took):.2f} ms, "
        f"p90 {took[int(len(took) * 0.9)]:.2f} ms (under the profiler)"
    )
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    (ROOT / "var").mkdir(exist_ok=True)
    profiler.last_session.save(str(ROOT / "var" / "send-path.pyisession"))  # to re-render
    if args.svg:
        write_svg(profiler.last_session, args.svg, title=f"{args.sends} message sends")
        print(f"flame graph: {args.svg}")


if __name__ == "__main__":
    main()
