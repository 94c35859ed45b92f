"""Load: virtual mobile users against the embedded server and the split topology.

Each target is started fresh and pre-populated with a pool of users (bench/load/pool.py); then
the number of concurrent users steps up (default 5, 10, 20, 40, 80, 120, 160), each level for a
fixed time, each user looping the scenario of bench/load/scenario.py with a think time.
Reports throughput, p50/p95/p99 per level and per step, errors (any non-2xx/3xx, a socket
failure, a message not on the partner's socket within 5 s), CPU per process group, and the
highest level with 0 errors and p99 under 500 ms. The load generator is this one asyncio
process (uvloop), on the same machine as the target.

  .venv/bin/python bench/load/run.py          # both targets, ~10 min
  .venv/bin/python bench/load/run.py --smoke  # CI: 5 users, 10 s, embedded; exit 1 on any error
  .venv/bin/python bench/load/plot.py         # docs/load-latency.png from the JSON

The split target needs PostgreSQL on 127.0.0.1:5432 (trust auth), Redis and nginx, as
`make split` does.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

import uvloop  # noqa: E402 - path set above

from bench.load import report, targets  # noqa: E402
from bench.load.levels import Target, run_level  # noqa: E402
from bench.load.pool import create_pool  # noqa: E402
from bench.load.scenario import Account  # noqa: E402
from bench.load.stats import LevelResult  # noqa: E402

TARGETS: dict[str, Callable[[], AbstractContextManager[Target]]] = {
    "embedded": targets.embedded,
    "split": targets.split,
}
DEFAULT_USERS = [5, 10, 20, 40, 80, 120, 160]
# Past this p99 (or 10 % errors) the next, higher level would only pile up more backlog.
GIVE_UP_P99_MS = 5000.0
GIVE_UP_ERROR_RATE = 0.10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", nargs="+", choices=list(TARGETS), default=list(TARGETS))
    parser.add_argument("--users", nargs="+", type=int, default=DEFAULT_USERS)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds between steps")
    parser.add_argument("--rest", type=float, default=5.0, help="seconds between levels")
    parser.add_argument("--p99-limit", type=float, default=500.0, help="ms, for 'clean'")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "load" / "results.json")
    parser.add_argument(
        "--smoke", action="store_true", help="5 users, 10 s, embedded only; exit 1 on any error"
    )
    args = parser.parse_args()
    if args.smoke:
        args.target, args.users, args.duration = ["embedded"], [5], 10.0
        args.json = ROOT / "var" / "load" / "smoke.json"
    return args


def run_target(name: str, args: argparse.Namespace) -> list[LevelResult]:
    """Start the target, create its users, run every level; the target stops on any exit."""
    results: list[LevelResult] = []
    with TARGETS[name]() as target, asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop:
        pool_size = max(args.users) + max(args.users) % 2
        print(f"[{name}] creating {pool_size} users…", file=sys.stderr)
        accounts = loop.run(create_pool(target.base_url, pool_size, staff=target.staff))
        for level, users in enumerate(args.users):
            if level:
                time.sleep(args.rest)  # let queues (events, notifications) drain
            result = loop.run(_level(target, accounts, users, args))
            results.append(result)
            print(f"[{name}] {report.level_line(result)}", file=sys.stderr)
            if _hopeless(result):
                print(f"[{name}] stopping: this level is far past the limit", file=sys.stderr)
                break
    return results


async def _level(
    target: Target, accounts: list[Account], users: int, args: argparse.Namespace
) -> LevelResult:
    return await run_level(target, accounts, users=users, duration=args.duration, think=args.think)


def _hopeless(result: LevelResult) -> bool:
    attempts = result.requests_per_s * result.seconds or 1
    return result.overall.p99_ms > GIVE_UP_P99_MS or result.errors / attempts > GIVE_UP_ERROR_RATE


def _document(args: argparse.Namespace, results: dict[str, list[LevelResult]]) -> dict[str, Any]:
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cores": os.cpu_count(), "load_generator": "same machine, one asyncio process"},
        "settings": {
            "duration_s": args.duration,
            "think_s": args.think,
            "p99_limit_ms": args.p99_limit,
            "users": args.users,
        },
        "targets": {
            name: {
                "highest_clean_users": report.highest_clean(levels, args.p99_limit),
                "levels": [level.as_dict() for level in levels],
            }
            for name, levels in results.items()
        },
    }


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, _raise_interrupt)
    results = {name: run_target(name, args) for name in args.target}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_document(args, results), indent=2) + "\n")
    print(report.markdown(results, args.p99_limit))
    print(f"\nfigures written to {args.json}", file=sys.stderr)
    if args.smoke:
        return report.smoke_verdict(results["embedded"])
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every target's `finally` stops its processes."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
