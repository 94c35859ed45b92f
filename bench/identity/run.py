"""Identity benchmark: GET /api/v1/me with a valid token against hello-world endpoints of the
same server process, and login throughput with the production Argon2id parameters.

One `web` server process (granian WSGI, 1 worker, 1 thread) is driven by wrk (one thread, on
the other core) over loopback. Embedded mode (SQLite, local-memory cache) by default; with
DATABASE_URL and REDIS_URL set it runs in real mode on database `cleave_bench_identity`.

Usage: python bench/identity/run.py [--duration 8] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.serving.run import run_wrk  # noqa: E402 - path set above
from cleave.testing.processes import embedded_env, free_port, real_mode_keys  # noqa: E402 - path set above
from cleave.testing.servers import running_server, web_server_command  # noqa: E402 - path set above

HERE = Path(__file__).resolve().parent
PASSWORD = "correct horse battery staple"  # noqa: S105 - the benchmark account
BENCH_DB = "cleave_bench_identity"


def _environment() -> tuple[dict[str, str], str]:
    base = {
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "CLEAVE_TRUSTED_PROXIES": "1",
    }
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return {
            **base,
            **embedded_env(ROOT / "var" / "bench-identity"),
        }, "embedded (SQLite, local memory)"
    import psycopg

    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    # Real mode refuses development keys: this database's own, kept across runs.
    env = {
        **base,
        **real_mode_keys("bench_identity"),
        "DATABASE_URL": url.rsplit("/", 1)[0] + "/" + BENCH_DB,
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    return env, "real (PostgreSQL, Redis)"


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            loaded: dict[str, object] = json.loads(response.read())
            return loaded
    except urllib.error.HTTPError as error:
        if error.code != 409:  # already registered by an earlier run
            raise
        return {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    env, mode = _environment()
    port = free_port()
    rows = []
    with running_server(web_server_command(port, workers=1, threads=1), port=port, env=env) as base:
        device = {"device_id": "bench-phone", "platform": "ios", "app_version": "1.0"}
        _post(
            f"{base}/api/v1/auth/register",
            {"email": "bench@example.com", "password": PASSWORD, "display_name": "Bench"},
        )
        tokens = _post(
            f"{base}/api/v1/auth/login",
            {"email": "bench@example.com", "password": PASSWORD, "device": device},
        )
        auth = f"Authorization: Bearer {tokens['access']}"
        if args.dry_run:  # registered and signed in on a started server: enough
            print(f"dry run: {mode}, signed in: {'access' in tokens}")
            return
        for name, path, extra in (
            ("hello: /healthz (plain Django view)", "/healthz", []),
            ("hello: /api/v1/meta (ninja)", "/api/v1/meta", []),
            ("GET /api/v1/me (valid token)", "/api/v1/me", ["-H", auth]),
        ):
            run_wrk(base + path, duration=2, connections=args.connections, extra=extra)
            rps, p50, p99, errors = run_wrk(
                base + path, duration=args.duration, connections=args.connections, extra=extra
            )
            rows.append((name, rps, p50, p99, errors))
            print(f"  {name:40} {rps:9.0f} req/s", file=sys.stderr)
        login = run_wrk(
            base + "/api/v1/auth/login",
            duration=args.duration,
            connections=4,
            extra=["-s", str(HERE / "login.lua")],
        )
    hello = rows[0][1]
    print(f"\n{mode}; one granian WSGI process (1 worker, 1 thread); wrk -t1 on loopback\n")
    print("| endpoint | req/s | p50 ms | p99 ms | errors | vs /healthz |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rps, p50, p99, errors in rows:
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / hello:.0%} |")
    rps, p50, p99, errors = login
    print(
        f"| POST /api/v1/auth/login (Argon2id m=19 MiB, t=2, p=1), 4 connections "
        f"| {rps:,.0f} | {p50:.1f} | {p99:.1f} | {errors} | |"
    )


if __name__ == "__main__":
    main()
