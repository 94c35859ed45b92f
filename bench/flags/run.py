"""Flags benchmark: the cost of a warm `is_active` (µs), and GET /api/v1/flags throughput
against the hello-world endpoints of the same server process.

One `web` process (granian WSGI, 1 worker, 1 thread), wrk -t1 -c32 on loopback; 20 client-visible
flags with mixed rules (percentages, platforms, app versions, variants). Embedded mode by default.
Usage: python bench/flags/run.py [--duration 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.serving.run import run_wrk  # noqa: E402 - path set above
from cleave.testing.processes import embedded_env, free_port, process_env  # noqa: E402
from cleave.testing.servers import running_server, web_server_command  # noqa: E402

SEED = """
from cleave.flags.changes import flag_save
for n in range(20):
    split = [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]
    rules = [{"percent": 25}, {"platforms": ["ios"], "min_app_version": "2.0.0"},
             {"everyone": True, "variants": split}, {"roles": ["staff"], "percent": 5}][n % 4]
    flag_save(name=f"bench-{n}", changes={"client_visible": True, **rules}, actor="bench")
"""


def _warm_evaluation_us() -> float:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    import django

    django.setup()
    from cleave.flags.definitions import definitions
    from cleave.flags.evaluation import FlagContext, evaluate

    definitions()
    context = FlagContext(user_id=42, platform="ios", app_version="2.1.0")
    rounds = 100_000
    best = min(timeit.repeat(lambda: evaluate("bench-0", context), number=rounds, repeat=3))
    return best / rounds * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    env = {
        **embedded_env(ROOT / "var" / "bench-flags"),
        "DEBUG": "false",
        "ALLOWED_HOSTS": "*",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SEED],
        cwd=ROOT,
        env=process_env(env),
        check=True,
    )
    os.environ.update(env)
    warm_us = _warm_evaluation_us()
    port = free_port()
    rows = []
    with running_server(web_server_command(port, workers=1, threads=1), port=port, env=env) as base:
        if args.dry_run:  # seeded and serving: enough
            print(f"dry run: flags seeded, {base} serving")
            return
        for name, path in (
            ("hello: /healthz", "/healthz"),
            ("hello: /api/v1/meta (ninja)", "/api/v1/meta"),
            (
                "GET /api/v1/flags (20 flags, anonymous device)",
                "/api/v1/flags?device_id=d-1&platform=ios&app_version=2.1.0",
            ),
        ):
            run_wrk(base + path, duration=2, connections=32)
            rps, p50, p99, errors = run_wrk(base + path, duration=args.duration, connections=32)
            rows.append((name, rps, p50, p99, errors))
    hello = rows[0][1]
    print(f"\nwarm is_active (one flag, cached definitions): {warm_us:.2f} µs per evaluation\n")
    print("| endpoint | req/s | p50 ms | p99 ms | errors | vs /healthz |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, rps, p50, p99, errors in rows:
        print(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {rps / hello:.0%} |")


if __name__ == "__main__":
    main()
