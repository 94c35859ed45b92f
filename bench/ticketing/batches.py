"""The real hold service under many buyers: how deep its batches get, and what they cost.

    .venv/bin/python bench/ticketing/batches.py                  # 4 processes x 16 threads
    .venv/bin/python bench/ticketing/batches.py --processes 2 --threads 8 --holds 20

bench/ticketing/pgbench.py measures the batched statement at the database for a given depth
(requests a statement). This one runs ticketing's own `holds.hold_place` — Redis queues, lane
locks, the batch pool, the fallbacks — in `--processes` processes of `--threads` threads each,
every thread a buyer taking `--holds` one-seat holds one after the other (a closed loop: a
buyer asks again as soon as it is answered), and reports:
  - holds/s end to end, with batches (`CLEAVE_TICKETING_HOLD_BATCH` as configured) and without
    (0: every hold one statement), in the same run, the two in turn;
  - the batches' depth: holds written by batches over their statements (services.hold_batches
    counts both per process), and how many holds were written alone;
  - the invariants after each (selectors.invariant_violations, and the holds written equal the
    holds granted).
Here the buyers are this machine's Python, on the two cores PostgreSQL also needs: the clients
set the pace, not the database, so the depth read here is the depth of a database with room
to spare, the shallow end of what pgbench.py's `--batch-depth` should be read at.

Real mode: DATABASE_URL (PostgreSQL) and REDIS_URL; the database is bench/ticketing's own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ticketing import children, pgbench
from bench.ticketing import run as race  # sets up sys.path and the settings module


def _child(category_id: int, threads: int, holds_each: int, first_user: int) -> None:
    """One process's buyers; prints what its batches wrote as one JSON line."""
    race._prepare()
    from django.db import connections

    from apps.ticketing.services import holds

    start = threading.Barrier(threads)

    def buyer(number: int) -> int:
        start.wait()
        try:
            for hold in range(holds_each):
                user = first_user + number * holds_each + hold
                holds.hold_place(user_id=user, category_id=category_id, quantity=1)
            return holds_each
        finally:
            connections.close_all()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        granted = sum(pool.map(buyer, range(threads)))
    seconds = time.perf_counter() - began
    print(json.dumps({"granted": granted, "seconds": seconds, **children.batch_counts()}))


def _redis_cpu() -> float:
    """CPU seconds of the machine's redis-server processes (long-lived: read before and after)."""
    total = 0
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text() if entry.name.isdigit() else ""
        except OSError:  # it ended meanwhile
            continue
        if stat[stat.find("(") + 1 : stat.rfind(")")] == "redis-server":
            fields = stat[stat.rfind(")") + 2 :].split()  # utime, stime: fields 14, 15
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _run(args: argparse.Namespace, batch: str) -> dict[str, float]:
    category_id = race._category(100_000_000, args.shards)
    env = {**os.environ, "CLEAVE_TICKETING_HOLD_BATCH": batch}
    per_process = args.threads * args.holds
    command = [sys.executable, __file__, "--child", str(category_id)]
    command += ["--threads", str(args.threads), "--holds", str(args.holds)]
    machine, redis = race._machine_now(), _redis_cpu()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    commands = [
        [*command, "--first-user", str(1 + number * per_process)]
        for number in range(args.processes)
    ]
    _, reports = children.run(commands, env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = (race._machine_now()[0] - machine[0]) / os.sysconf("SC_CLK_TCK")
    buyers_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    redis_cpu = _redis_cpu() - redis
    # From the buyers' start (their barrier) to the last one's end: not the processes' start-up.
    seconds = max(float(r["seconds"]) for r in reports)
    granted = children.total(reports, "granted")
    statements = children.total(reports, "statements")
    batched = children.total(reports, "batched")
    # The invariants, then the run's holds deleted (left active, they would slow every later
    # run's expiry scans in this database).
    problems = pgbench._check_and_clear(category_id, granted)
    return {
        "rate": granted / seconds,
        "granted": granted,
        "statements": statements,
        "batched": batched,
        "problems": len(problems),
        # The machine's busy time less the buyers' processes and Redis: PostgreSQL on a quiet
        # machine (its backends end with the buyers, before /proc could be read).
        "database_us": 1e6 * (busy - buyers_cpu - redis_cpu) / max(granted, 1),
        "redis_us": 1e6 * redis_cpu / max(granted, 1),
        "buyers_us": 1e6 * buyers_cpu / max(granted, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16, help="buyers per process")
    parser.add_argument("--holds", type=int, default=60, help="holds per buyer")
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="2 processes x 4 buyers x 5")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first-user", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.threads, args.holds, args.first_user)
        return
    if args.dry_run:
        args.processes, args.threads, args.holds, args.rounds = 2, 4, 5, 1
    configured = children.configured_batch("bench/ticketing/batches.py")
    print(
        f"bench/ticketing/batches: {args.processes} processes x {args.threads} buyers,"
        f" {args.holds} holds each, {args.rounds} rounds (batches of up to {configured},"
        f" then none, in turn)"
    )
    broken = False
    for round_number in range(1, args.rounds + 1):
        for label, batch in (("batched", configured), ("alone", "0")):
            result = _run(args, batch)
            depth = result["batched"] / max(result["statements"], 1)
            print(
                f"  {round_number}  {label:<8} {result['rate']:6.0f} holds/s end to end;"
                f" {result['batched']:.0f} of {result['granted']:.0f} holds in"
                f" {result['statements']:.0f} batch statements (depth {depth:.1f});"
                f" invariants {'OK' if not result['problems'] else 'BROKEN'}"
            )
            print(
                f"              CPU per hold: PostgreSQL (the rest of the machine)"
                f" {result['database_us']:5.0f} µs, Redis {result['redis_us']:4.0f} µs, the buyers'"
                f" Python {result['buyers_us']:5.0f} µs (start-up included)"
            )
            broken = broken or bool(result["problems"])
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
