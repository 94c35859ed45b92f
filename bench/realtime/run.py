"""Realtime fan-out benchmark: one realtime process, real Redis, N sockets on one stream.

For each socket count it measures, against Cleave's gateway and against plain Channels
`group_send` in the same run (same Redis, same clients):
  - end to end: publish → the last of N sockets has the frame (p50/p99 over the messages);
  - server side (Cleave only): the time to hand one frame to every local socket (p50/p99);
  - deliveries/s in a burst;
  - memory per idle socket (the server's RSS growth ÷ N).
Clients run in separate processes (asyncio `websockets`), N/4 sockets each; the publisher is
this process. Usage (real mode, needs Redis and PostgreSQL):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cleave REDIS_URL=redis://127.0.0.1:6379/4 \\
  python bench/realtime/run.py [--sockets 1000 5000] [--messages 40] [--dry-run]
(SECRET_KEY and the encryption keys: the environment's when set, else derived from the
benchmark's name by cleave.testing's real_mode_keys, so no key need be typed.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
BENCH_DB = "cleave_bench_realtime"
CLIENT_PROCESSES = 4


def _setup() -> tuple[dict[str, str], str, int]:
    """Migrate the bench database, create a user with a session; return env, token, user id."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/realtime needs real mode: DATABASE_URL (PostgreSQL) and REDIS_URL")
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + BENCH_DB
    # Real mode refuses development keys: this database's own, kept across runs.
    from cleave.testing.processes import real_mode_keys

    keys = real_mode_keys("bench_realtime")
    os.environ.update(keys)
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import transaction

    from apps.identity.models import User
    from apps.identity.services.sessions import DeviceInfo, session_open

    call_command("migrate", verbosity=0)
    user = User.objects.filter(email="fanout@example.com").first() or User.objects.create_user(
        "fanout@example.com", "correct horse battery staple", display_name="Fanout"
    )
    with transaction.atomic():
        issued = session_open(user=user, device=DeviceInfo("bench", "web", "1.0"))
    env = {
        "DATABASE_URL": os.environ["DATABASE_URL"],
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",  # real mode refuses "*"
        **keys,
    }
    return env, issued.access, user.pk


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


WS_OPTIONS = os.environ.get("BENCH_WS_OPTIONS", "--ws-per-message-deflate false").split()


def _start_server(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    from cleave.testing.processes import BIN, process_env, wait_until_serving

    command = [
        str(BIN / "uvicorn"),
        app,
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
        "--ws-max-queue",
        "1024",
        *WS_OPTIONS,
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=process_env(env))
    if app.startswith("cleave"):
        wait_until_serving(f"http://127.0.0.1:{port}/healthz", process=server)
    else:
        time.sleep(3)
    return server


def _run_case(
    *,
    app: str,
    env: dict[str, str],
    token: str,
    sockets: int,
    messages: int,
    publish: Any,
    auth_frame: bool,
) -> dict[str, Any]:
    from cleave.testing.processes import free_port

    port = free_port()
    server = _start_server(app, port, env)
    time.sleep(1)
    rss_before = _rss_kib(server.pid)
    per_process = sockets // CLIENT_PROCESSES
    seconds = 8 + messages * 0.1 + 5
    clients = [
        subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).with_name("clients.py")),
                f"ws://127.0.0.1:{port}/ws/v1",
                token,
                str(per_process),
                str(seconds),
                "1" if auth_frame else "0",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(CLIENT_PROCESSES)
    ]
    # Each client is started with stdout=PIPE, so its stdout is never None.
    connected = sum(json.loads(client.stdout.readline())["connected"] for client in clients)  # type: ignore[union-attr]
    time.sleep(2)
    rss_after = _rss_kib(server.pid)
    sent: dict[int, float] = {}
    for n in range(messages):  # spaced out: latency, not queueing
        sent[n] = time.time()
        publish(n, sent[n])
        time.sleep(0.1)
    burst_start = time.time()
    burst = 100
    for n in range(messages, messages + burst):
        sent[n] = time.time()
        publish(n, sent[n])
    results = [json.loads(client.stdout.readline()) for client in clients]  # type: ignore[union-attr]  # stdout=PIPE
    for client in clients:
        client.wait(timeout=60)
    server.terminate()
    server.wait(timeout=30)
    last: dict[int, float] = {}
    counts: dict[int, int] = {}
    for result in results:
        for seq, (arrived, count) in result["received"].items():
            key = int(seq)
            last[key] = max(last.get(key, 0.0), arrived)
            counts[key] = counts.get(key, 0) + count
    spaced = sorted((last[n] - sent[n]) * 1000 for n in range(messages) if n in last)
    burst_end = max(
        (last[n] for n in range(messages, messages + burst) if n in last), default=burst_start
    )
    delivered_burst = sum(counts.get(n, 0) for n in range(messages, messages + burst))
    return {
        "connected": connected,
        "complete": sum(1 for n in range(messages + burst) if counts.get(n, 0) == connected),
        "total": messages + burst,
        "p50": statistics.median(spaced) if spaced else float("nan"),
        "p99": spaced[max(0, int(len(spaced) * 0.99) - 1)] if spaced else float("nan"),
        "deliveries_per_s": delivered_burst / max(burst_end - burst_start, 1e-6),
        "kib_per_socket": (rss_after - rss_before) / max(connected, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--messages", type=int, default=40)
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    env, token, user_id = _setup()
    if args.dry_run:  # the realtime process up on the bench database, then stopped
        from cleave.testing.processes import free_port, stop_process

        port = free_port()
        stop_process(_start_server("cleave.asgi:application", port, env), timeout=30)
        print(f"dry run: realtime served /healthz on {port} (user {user_id} has a session)")
        return
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from pydantic import BaseModel

    from bench.realtime.channel_layer import use_redis_channel_layer
    from cleave.realtime import push, register_event

    class BenchTick(BaseModel):
        bench_seq: int
        t: float

    register_event("bench", BenchTick, stream="user")  # push() sends only declared events
    use_redis_channel_layer()
    layer = get_channel_layer()

    def cleave_publish(n: int, at: float) -> None:
        push(f"user:{user_id}", "bench", {"bench_seq": n, "t": at})

    def channels_publish(n: int, at: float) -> None:
        text = json.dumps({"type": "event", "bench_seq": n, "t": at})
        async_to_sync(layer.group_send)("bench", {"type": "bench.message", "text": text})

    rows = []
    for count in args.sockets:
        stats = Path(tempfile.mkstemp(suffix=".stats")[1])
        cleave_env = {**env, "CLEAVE_REALTIME_STATS_PATH": str(stats)}
        ours = _run_case(
            app="cleave.asgi:application",
            env=cleave_env,
            token=token,
            sockets=count,
            messages=args.messages,
            publish=cleave_publish,
            auth_frame=False,
        )
        server_ms = sorted(
            float(line.split()[1])
            for line in stats.read_text().splitlines()
            if int(line.split()[0]) >= ours["connected"] * 0.99
        )
        ours["server_p50"] = statistics.median(server_ms) if server_ms else float("nan")
        ours["server_p99"] = (
            server_ms[max(0, int(len(server_ms) * 0.99) - 1)] if server_ms else float("nan")
        )
        base = _run_case(
            app="bench.realtime.baseline_app:application",
            env=env,
            token=token,
            sockets=count,
            messages=args.messages,
            publish=channels_publish,
            auth_frame=False,
        )
        rows.append((count, ours, base))
        print(f"  {count} sockets done", file=sys.stderr)
    print(
        "\none realtime process (uvicorn), Redis on loopback; clients: 4 processes, same machine\n"
    )
    columns = [
        "sockets",
        "path",
        "connected",
        "complete msgs",
        "e2e p50 ms",
        "e2e p99 ms",
        "server p50 ms",
        "server p99 ms",
        "deliveries/s",
        "KiB/socket",
    ]
    print("| " + " | ".join(columns) + " |")
    print("|---:|---|" + "---:|" * (len(columns) - 2))
    for count, ours, base in rows:
        for name, r in (("Cleave hub", ours), ("Channels group_send", base)):
            cells = [
                str(count),
                name,
                str(r["connected"]),
                f"{r['complete']}/{r['total']}",
                f"{r['p50']:.1f}",
                f"{r['p99']:.1f}",
                f"{r['server_p50']:.1f}" if "server_p50" in r else "—",
                f"{r['server_p99']:.1f}" if "server_p99" in r else "—",
                f"{r['deliveries_per_s']:,.0f}",
                f"{r['kib_per_socket']:.1f}",
            ]
            print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
