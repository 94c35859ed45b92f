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

  .venv/bin/python bench/load/run.py --peer parse            # side by side with Parse Server
  .venv/bin/python bench/load/run.py --peer parse --quick    # fewer, shorter levels
  .venv/bin/python bench/load/run.py --peer parse --dry-run  # CI: start-up only, no npm

With --peer parse: Cleave real (the Procfile), Cleave embedded, Parse Server on one and on two
Node processes, each through the "chat" and the "login" scenarios (bench/load/flows.py) at
5…320 users, then the "sends" phase (100 conversations, every socket subscribed).
The split and real targets need PostgreSQL on 127.0.0.1:5432 (trust auth) and Redis; split
also nginx, as `make split` does.
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

from bench.load import peers, real, report, targets  # noqa: E402
from bench.load.flows import SCENARIOS  # noqa: E402
from bench.load.levels import Target, run_level  # noqa: E402
from bench.load.stats import LevelResult  # noqa: E402

TARGETS: dict[str, Callable[[], AbstractContextManager[Target]]] = {
    "embedded": targets.embedded,
    "split": targets.split,
    "real": lambda: real.real(targets.SEND_RATE),
    **peers.TARGETS,
}
DEFAULT_USERS = [5, 10, 20, 40, 80, 120, 160]
PEER_USERS = [5, 10, 20, 40, 80, 160, 320]
QUICK_USERS = [5, 10, 20, 40, 80]
SEND_CONVERSATIONS = 100  # the "sends" phase: this many pairs, the first of each sending
# Past this p99 (or 10 % errors) the next, higher level would only pile up more backlog.
GIVE_UP_P99_MS = 5000.0
GIVE_UP_ERROR_RATE = 0.10


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--target", nargs="+", choices=list(TARGETS))
    parser.add_argument("--peer", choices=list(peers.PEERS), help="side by side with a peer")
    parser.add_argument("--scenario", nargs="+", choices=SCENARIOS)
    parser.add_argument("--users", nargs="+", type=int)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per level")
    parser.add_argument("--think", type=float, default=0.5, help="mean seconds between steps")
    parser.add_argument("--rest", type=float, default=5.0, help="seconds between levels")
    parser.add_argument("--p99-limit", type=float, default=500.0, help="ms, for 'clean'")
    parser.add_argument("--sends", type=float, default=10.0, help="seconds of the sends phase")
    parser.add_argument("--json", type=Path, default=ROOT / "var" / "load" / "results.json")
    parser.add_argument(
        "--smoke", action="store_true", help="5 users, 10 s, embedded only; exit 1 on any error"
    )
    parser.add_argument("--quick", action="store_true", help=f"users {QUICK_USERS}, 6 s each")
    parser.add_argument(
        "--dry-run", action="store_true", help="start every target, 2 users, 3 s; no npm install"
    )
    args = parser.parse_args()
    args.target = args.target or (peers.PEERS[args.peer] if args.peer else ["embedded", "split"])
    args.scenario = args.scenario or (list(SCENARIOS) if args.peer else ["login"])
    if args.quick:  # fewer and shorter levels; explicit --users still win
        args.users = args.users or QUICK_USERS
        args.duration, args.rest, args.sends = 6.0, 2.0, 6.0
    args.users = args.users or (PEER_USERS if args.peer else DEFAULT_USERS)
    if args.smoke:
        args.target, args.users, args.duration = ["embedded"], [5], 10.0
        args.json = ROOT / "var" / "load" / "smoke.json"
    return args


def run_target(name: str, args: argparse.Namespace) -> dict[str, list[LevelResult]]:
    """Start the target, create its users, run every scenario's levels (and the sends phase
    with a peer); the target stops on any exit. Results by "<target> <scenario>"."""
    results: dict[str, list[LevelResult]] = {}
    with TARGETS[name]() as target, asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop:
        pool_size = max(args.users) + max(args.users) % 2
        if args.peer:
            pool_size = max(pool_size, 2 * SEND_CONVERSATIONS)
        print(f"[{name}] creating {pool_size} users…", file=sys.stderr)
        accounts = loop.run(target.driver.create_pool(target.base_url, pool_size))
        for scenario in args.scenario:
            key = f"{name} {scenario}" if args.peer else name
            results[key] = []
            for users in args.users:
                if any(results.values()):
                    time.sleep(args.rest)  # let queues (events, notifications) drain
                result = loop.run(_level(target, accounts, users, args, scenario))
                results[key].append(result)
                print(f"[{key}] {report.level_line(result)}", file=sys.stderr)
                if _hopeless(result):
                    print(f"[{key}] stopping: this level is far past the limit", file=sys.stderr)
                    break
        if args.peer:
            time.sleep(args.rest)
            users = 2 * SEND_CONVERSATIONS
            sends = loop.run(
                run_level(
                    target, accounts, users=users, duration=args.sends, think=0, scenario="sends"
                )
            )
            results[f"{name} sends"] = [sends]
            print(f"[{name} sends] {report.level_line(sends)}", file=sys.stderr)
    return results


async def _level(
    target: Target, accounts: list[Any], users: int, args: argparse.Namespace, scenario: str
) -> LevelResult:
    return await run_level(
        target, accounts, users=users, duration=args.duration, think=args.think, scenario=scenario
    )


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
            "scenarios": args.scenario,
            "peer": args.peer,
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
    if args.dry_run:
        return peers.dry_run(args, TARGETS)
    results: dict[str, list[LevelResult]] = {}
    for name in args.target:
        results |= run_target(name, args)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(_document(args, results), indent=2) + "\n")
    print(report.markdown(results, args.p99_limit))
    if args.peer:
        print(report.side_by_side(results, args.p99_limit))
    print(f"\nfigures written to {args.json}", file=sys.stderr)
    if args.smoke:
        return report.smoke_verdict(results["embedded"])
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every target's `finally` stops its processes."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
