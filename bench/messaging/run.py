"""Message-send benchmark: POST /api/v1/conversations/{id}/messages on the Procfile's `web`.

Real mode (PostgreSQL, Redis): the Procfile's `web` (granian WSGI, 2 workers x 4 threads) and
its `events` worker (which takes the MessageSent events the sends publish), on database
`cleave_bench_messaging`. wrk (one thread) drives, over loopback:
  - GET /api/v1/me, the reference (a token check and one read);
  - sends from 1 connection and from 8 on one conversation (the seq allocation serialises them);
  - sends from 8 and 32 connections spread over 100 conversations.
After the run it checks what was promised: every conversation's seqs run 1..last_seq without a
gap or a double, and every outbox event was handed off.

Usage (the send limit is raised for the run through CLEAVE_MESSAGING_SEND_RATE, never in code):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cleave REDIS_URL=redis://127.0.0.1:6379/4 \\
  .venv/bin/python bench/messaging/run.py [--quick] [--duration 8] [--dry-run]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.messaging.world import World, prepare, real_mode_urls  # noqa: E402 - path set above
from bench.serving.run import run_wrk  # noqa: E402 - path set above
from cleave.testing.processes import BIN, free_port, process_env, stop_process, wait_for  # noqa: E402 - path set above
from cleave.testing.servers import running_server, web_server_command  # noqa: E402 - path set above

HERE = Path(__file__).resolve().parent
BENCH_DB = "cleave_bench_messaging"
# (label, path kind, connections, conversations): the cases, in order.
CASES = [
    ("GET /api/v1/me", "me", 1, 0),
    ("GET /api/v1/me", "me", 32, 0),
    ("send, one conversation", "send", 1, 1),
    ("send, one conversation", "send", 8, 1),
    ("send, 100 conversations", "send", 8, 100),
    ("send, 100 conversations", "send", 32, 100),
]


@contextmanager
def events_worker(env: dict[str, str]) -> Iterator[None]:
    """The Procfile's `events` process: every queue but the task queue, one solo worker."""
    log_path = ROOT / "var" / "bench-messaging-events.log"
    log_path.parent.mkdir(exist_ok=True)
    with log_path.open("w+b") as log:
        process = subprocess.Popen(
            [
                str(BIN / "celery"),
                "-A",
                "cleave.celery",
                "worker",
                "--exclude-queues",
                "celery",
                "--pool",
                "solo",
                "--hostname",
                f"bench-events-{os.getpid()}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel",
                "WARNING",
            ],  # fmt: skip
            cwd=ROOT,
            env=process_env({**env, "CLEAVE_EVENTS_WORKER": "1"}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(2)
            if process.poll() is not None:
                raise RuntimeError(f"events worker exited: {log_path.read_text()[-3000:]}")
            yield
        finally:
            stop_process(process, timeout=15)


@contextmanager
def procfile_web(env: dict[str, str]) -> Iterator[str]:
    """The Procfile's `web`: granian WSGI, 2 workers x 4 threads, multiprocess metrics."""
    metrics = ROOT / "var" / "metrics" / "bench-messaging-web"
    shutil.rmtree(metrics, ignore_errors=True)
    metrics.mkdir(parents=True)
    port = free_port()
    command = web_server_command(port, workers=2, threads=4)
    with running_server(
        command, port=port, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    ) as base:
        yield base


def _send_once(base: str, world: World) -> int:
    body = json.dumps({"text": "dry run", "client_msg_id": secrets.token_hex(8)}).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/conversations/{world.conversation_ids[0]}/messages",
        data=body,
        headers={"Authorization": f"Bearer {world.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return int(response.status)


def check_promises() -> list[str]:
    """What must hold after any load: gap-free, unique seqs per conversation, and an empty
    outbox (every event handed off). Returns the violations."""
    from django.db.models import Count, Max

    from apps.messaging.models import Conversation
    from cleave.events.models import OutboxEvent

    problems = []
    # One statement, so one snapshot: read apart, a send wrk left in flight that commits
    # between the two reads looks like a seq taken without its message.
    rows = Conversation.objects.annotate(n=Count("messages"), top=Max("messages__seq")).values(
        "pk", "last_seq", "n", "top"
    )
    for row in rows:
        if not row["n"] == (row["top"] or 0) == row["last_seq"]:
            problems.append(f"conversation {row['pk']}: {row}")
    try:
        wait_for(
            lambda: not OutboxEvent.objects.filter(dispatched_at__isnull=True).exists(),
            timeout=30,
        )
    except TimeoutError:
        problems.append("outbox not drained in 30 s")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="3 s per case, 1 s warm-up")
    parser.add_argument("--dry-run", action="store_true", help="start, send once, stop")
    parser.add_argument("--database", default=BENCH_DB)
    args = parser.parse_args()
    real_mode_urls()
    if not args.dry_run and not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    world = prepare(args.database)
    duration, warm_up = (3, 1) if args.quick else (args.duration, 2)
    rows = []
    with events_worker(world.env), procfile_web(world.env) as base:
        if args.dry_run:
            status = _send_once(base, world)
            print(f"dry run: web and events up, one send -> {status}")
            sys.exit(0 if status == 201 else 1)
        for label, kind, connections, spread in CASES:
            os.environ.update(
                BENCH_TOKEN=world.token,
                BENCH_NONCE=secrets.token_hex(4),
                BENCH_CONVERSATIONS=",".join(map(str, world.conversation_ids[:spread] or [0])),
            )
            if kind == "me":
                url = base + "/api/v1/me"
                extra = ["-H", f"Authorization: Bearer {world.token}"]
            else:
                url, extra = base, ["-s", str(HERE / "send.lua")]
            run_wrk(url, duration=warm_up, connections=connections, extra=extra)
            rps, p50, p99, errors = run_wrk(
                url, duration=duration, connections=connections, extra=extra
            )
            rows.append((label, connections, rps, p50, p99, errors))
            print(f"  {label:26} c={connections:<3} {rps:8.0f} req/s", file=sys.stderr)
        problems = check_promises()  # while web runs: its relay thread hands the outbox off
    me = rows[0][2]
    print(
        f"\nreal mode; the Procfile's web (granian, 2 workers x 4 threads) + events worker; "
        f"wrk -t1 -d{duration}s on loopback\n"
    )
    print("| request | connections | req/s | p50 ms | p99 ms | errors | vs /me (1 conn) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, connections, rps, p50, p99, errors in rows:
        print(
            f"| {label} | {connections} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} "
            f"| {rps / me:.0%} |"
        )
    print("\npromises after the run: " + ("kept" if not problems else "; ".join(problems)))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
