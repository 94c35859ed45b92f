"""The on-sale race through ticketing's own hold service, open loop, with and without batches.

    .venv/bin/python bench/ticketing/service_race.py     # 5,000 buyers for 1,000 seats
    .venv/bin/python bench/ticketing/service_race.py --buyers 1000 --seats 200

bench/ticketing/run.py races the hold statements from an asyncio driver; this races
`holds.hold_place` itself, as the API and the purchase saga call it (category read, Redis lanes,
batches, the single-statement fallback near the sell-out, expiry of stale holds). Buyers arrive
at a set rate (open loop: an arrival never waits for an answer; `--processes` processes each
release every n-th buyer at its scheduled time into `--threads` threads, and a buyer who finds
every thread busy waits, which counts in its latency). Per mode (batches as configured, then
`CLEAVE_TICKETING_HOLD_BATCH=0`):
  - saturation: every buyer arriving at once; holds granted per second from the start to the
    last grant;
  - at half the measured maximum (buyers arriving at half the higher of the two modes'
    saturation hold throughputs, holds granted per second): hold p50/p99 from arrival to
    answer (the issue's latency target: p99 < 100 ms). Not half the buyers *answered* per
    second: a sold-out answer is one read, so that rate is mostly cheap refusals, and half of
    it would race the first 1,000 buyers at the service's full hold throughput;
  - the invariants after each run: granted ≤ seats, the counters equal the holds, then every
    hold released through the service and every seat back (run.py's check).

Real mode: DATABASE_URL (PostgreSQL) and REDIS_URL; the database is bench/ticketing's own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ticketing import children
from bench.ticketing import run as race  # sets up sys.path and the settings module


def _child(args: argparse.Namespace) -> None:
    """Buyers number `index`, `index + processes`, …: each released at its time into a thread;
    prints "ready", waits for the start time on stdin, then prints one JSON line."""
    race._prepare()
    from apps.ticketing.error_codes import SoldOut
    from apps.ticketing.services import holds

    latencies: list[float] = []
    outcome = {"granted": 0, "sold_out": 0, "errors": 0, "last_grant": 0.0, "last_answer": 0.0}
    lock = threading.Lock()

    def buyer(number: int, due: float) -> None:
        try:
            holds.hold_place(user_id=number + 1, category_id=args.child, quantity=1)
            key = "granted"
        except SoldOut:
            key = "sold_out"
        except Exception as error:  # counted and printed: a benchmark must not hide failures
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            key = "errors"
        done = time.time()
        with lock:
            latencies.append(done - due)
            outcome[key] += 1
            outcome["last_answer"] = max(outcome["last_answer"], done)
            if key == "granted":
                outcome["last_grant"] = max(outcome["last_grant"], done)

    print("ready", flush=True)
    start = float(sys.stdin.readline())
    mine = range(args.index, args.buyers, args.processes)
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        for number in mine:
            due = start + number / args.rate
            if (delay := due - time.time()) > 0:
                time.sleep(delay)
            pool.submit(buyer, number, due)
    # The threads' connections end with the process.
    print(json.dumps({**outcome, "latencies": latencies, **children.batch_counts()}))


def _race(args: argparse.Namespace, batch: str, rate: float) -> dict[str, float]:
    category_id = race._category(args.seats, args.shards)
    env = {**os.environ, "CLEAVE_TICKETING_HOLD_BATCH": batch}
    command = [sys.executable, __file__, "--child", str(category_id), "--rate", str(rate)]
    command += ["--buyers", str(args.buyers), "--processes", str(args.processes)]
    command += ["--threads", str(args.threads)]
    commands = [[*command, "--index", str(index)] for index in range(args.processes)]
    start, reports = children.run(commands, env, ready_first=True)
    latencies = sorted(value for report in reports for value in report["latencies"])
    granted = children.total(reports, "granted")
    last_grant = max(float(report["last_grant"]) for report in reports)
    last_answer = max(float(report["last_answer"]) for report in reports)
    problems = race._release_all_and_check(category_id, args.seats, granted)
    return {
        "granted": granted,
        "sold_out": children.total(reports, "sold_out"),
        "errors": children.total(reports, "errors"),
        "grant_rate": granted / max(last_grant - start, 1e-9),
        "answer_rate": len(latencies) / max(last_answer - start, 1e-9),
        "p50_ms": 1000 * race._percentile(latencies, 0.50),
        "p99_ms": 1000 * race._percentile(latencies, 0.99),
        "statements": children.total(reports, "statements"),
        "batched": children.total(reports, "batched"),
        "problems": len(problems),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--seats", type=int, default=1000)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--threads", type=int, default=16, help="per process")
    parser.add_argument("--dry-run", action="store_true", help="200 buyers for 50 seats")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=1e6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return
    if args.dry_run:
        args.buyers, args.seats, args.processes, args.threads = 200, 50, 2, 4
    configured = children.configured_batch("bench/ticketing/service_race.py")
    print(
        f"bench/ticketing/service_race: {args.buyers} buyers for {args.seats} seats"
        f" ({args.shards} shards), {args.processes} processes x {args.threads} threads"
    )
    broken = False
    most = 0.0  # holds granted per second at saturation, the better mode's
    for phase in ("saturation", "half"):
        for label, batch in (("batched", configured), ("alone", "0")):
            rate = 1e6 if phase == "saturation" else max(most / 2, 1.0)
            result = _race(args, batch, rate)
            if phase == "saturation":
                most = max(most, result["grant_rate"])
            depth = result["batched"] / max(result["statements"], 1)
            shown = "all at once" if phase == "saturation" else f"{rate:.0f}/s"
            print(
                f"  {phase:<10} {label:<8} arrivals {shown:>11}:"
                f" {result['answer_rate']:5.0f} buyers/s answered,"
                f" {result['grant_rate']:5.0f} holds/s granted, p50 {result['p50_ms']:6.1f} ms,"
                f" p99 {result['p99_ms']:6.1f} ms; {result['granted']:.0f} granted,"
                f" {result['sold_out']:.0f} sold out, {result['errors']:.0f} errors;"
                f" batches depth {depth:.1f};"
                f" invariants {'OK' if not result['problems'] else 'BROKEN'}"
            )
            broken = broken or bool(result["problems"] or result["errors"])
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
