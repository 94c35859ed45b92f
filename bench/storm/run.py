"""The reconnect storm: N sockets opening at the same instant against one `realtime` process.

    make storm                       # 5,000 sockets; or: python bench/storm/run.py --sockets 5000

Real mode against the local PostgreSQL (database `cleave_bench_storm`, created and migrated)
and a Redis server of its own on a free port. It seeds N accounts with sessions through
`manage.py users_seed`, starts `realtime` exactly as the Procfile's line says, and storms it
from client processes (bench/storm/clients.py, asyncio + uvloop, `--clients` of them, all
starting at one instant). Then the same storm against a raw ASGI app on the same uvicorn
(bench/storm/bare_app.py): the floor of handshakes alone on this machine, in the same run.
Prints, for each: all-ready time, p50/p99 connect-to-ready, failures, exceptions in the server
log, and the server's CPU time. `--profile` samples the realtime process with py-spy.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
BENCH_DB = "cleave_bench_storm"
PYTHON = sys.executable
BIN = Path(PYTHON).parent


def procfile_command(name: str) -> str:
    """The Procfile's line for `name`: the bench runs what production runs."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"no {name!r} in the Procfile")


def free_port() -> int:
    from cleave.testing.processes import free_port as port

    return port()


def bench_env(redis_url: str) -> dict[str, str]:
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/cleave")
    if not base.startswith("postgres"):
        sys.exit("bench/storm needs PostgreSQL: DATABASE_URL=postgres://…")
    env = {
        **os.environ,
        "DATABASE_URL": base.rsplit("/", 1)[0] + "/" + BENCH_DB,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
    }
    from cleave.testing.processes import real_mode_keys

    # Real mode refuses development keys: the environment's, else this benchmark's own.
    env.update(real_mode_keys("bench_storm"))
    return env


def _output(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(command[1:])} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


def create_database(env: dict[str, str]) -> None:
    import psycopg

    server = env["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    _output([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], env)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(command: str, *, port: int, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    from cleave.testing.processes import wait_until_serving

    server = subprocess.Popen(  # noqa: S602 - the Procfile's own line, as honcho runs it
        command,
        shell=True,
        cwd=ROOT,
        env={**env, "REALTIME_PORT": str(port), "HOST": "127.0.0.1"},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    wait_until_serving(f"http://127.0.0.1:{port}/healthz", process=server, timeout=30)
    return server


def storm(url: str, tokens: Path, sockets: int, clients: int, bare: bool) -> dict[str, Any]:
    """All client processes start their sockets at the same instant, 2 s from now."""
    start_at = time.time() + 2.0
    share = [sockets // clients + (1 if n < sockets % clients else 0) for n in range(clients)]
    firsts = [sum(share[:n]) for n in range(clients)]
    procs = [
        subprocess.Popen(
            [
                PYTHON,
                str(Path(__file__).with_name("clients.py")),
                url,
                str(tokens),
                "--first",
                str(first),
                "--count",
                str(count),
                "--start-at",
                str(start_at),
                "--timeout",
                "30",
                "--hold",
                "2",
                *(["--bare"] if bare else []),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for first, count in zip(firsts, share, strict=True)
    ]
    results = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    latencies = sorted(ms for result in results for ms in result["latencies_ms"])
    failed: dict[str, int] = {}
    for result in results:
        for reason, count in result["failed"].items():
            failed[reason] = failed.get(reason, 0) + count
    ready = len(latencies)
    last = max((r["last_ready"] for r in results if r["ready"]), default=start_at)
    return {
        "sockets": sockets,
        "ready": ready,
        "failed": failed,
        "all_ready_s": round(last - start_at, 3) if ready == sockets else None,
        "p50_ms": round(latencies[ready // 2], 1) if ready else None,
        "p99_ms": round(latencies[max(0, int(ready * 0.99) - 1)], 1) if ready else None,
    }


def exceptions_in(log: Path) -> int:
    text = log.read_text(errors="replace")
    return text.count("Traceback") + text.count("Exception in ASGI application")


def run_case(
    name: str, command: str, env: dict[str, str], args: argparse.Namespace, tokens: Path
) -> dict[str, Any]:
    port = free_port()
    log = Path(tempfile.mkdtemp(prefix="cleave-storm-")) / f"{name}.log"
    server = start(command, port=port, env=env, log=log)
    profiler = None
    try:
        if args.profile and name == "cleave":
            out = ROOT / "var" / "storm-profile.txt"
            out.parent.mkdir(exist_ok=True)
            profiler = subprocess.Popen(
                [str(BIN / "py-spy"), "record", "--pid", str(server.pid), "--format", "raw",
                 "--output", str(out), "--rate", "200", "--nonblocking"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        cpu_before = cpu_seconds(server.pid)
        result = storm(f"ws://127.0.0.1:{port}/ws/v1", tokens, args.sockets, args.clients,
                       bare=name == "bare")  # fmt: skip
        result["server_cpu_s"] = round(cpu_seconds(server.pid) - cpu_before, 2)
    finally:
        if profiler is not None:
            profiler.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT
            profiler.wait(timeout=60)
        server.terminate()
        server.wait(timeout=30)
    result["server_exceptions"] = exceptions_in(log)
    result["server_log"] = str(log)
    return {"case": name, **result}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="py-spy the realtime process")
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    if args.dry_run:  # its Redis, its database and a few accounts, no sockets
        args.sockets = 2
    from tests.faults.components import redis_server

    if shutil.which("redis-server") is None:
        sys.exit("bench/storm starts its own Redis: redis-server must be on PATH")
    with redis_server() as redis:
        env = bench_env(redis.url())
        create_database(env)
        tokens = Path(tempfile.mkdtemp(prefix="cleave-storm-")) / "tokens.json"
        seeded = time.monotonic()
        _output(
            [PYTHON, "manage.py", "users_seed", "--count", str(args.sockets), "--prefix", "storm",
             "--verified", "--tokens-out", str(tokens)],
            env,
        )  # fmt: skip
        print(f"seeded {args.sockets} accounts in {time.monotonic() - seeded:.1f} s", flush=True)
        if args.dry_run:
            print("dry run: Redis started, database migrated, accounts seeded")
            return
        bare_command = (
            f"exec {BIN / 'uvicorn'} bench.storm.bare_app:application --host 127.0.0.1 "
            "--port ${REALTIME_PORT} --lifespan off --no-access-log --ws-per-message-deflate false"
        )
        for run in range(args.runs):
            for name, command in (("cleave", procfile_command("realtime")), ("bare", bare_command)):
                if name == "bare":
                    command = command + " " + _procfile_limits()
                print(json.dumps({"run": run + 1, **run_case(name, command, env, args, tokens)}),
                      flush=True)  # fmt: skip


def _procfile_limits() -> str:
    """The Procfile's accept backlog, so the floor is measured under the same limits."""
    words = procfile_command("realtime").split()
    return (
        " ".join(words[words.index("--backlog") : words.index("--backlog") + 2])
        if ("--backlog" in words)
        else ""
    )


if __name__ == "__main__":
    main()
