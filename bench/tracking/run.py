"""Tracking benchmark (real mode): ingest, rebuild, live projection lag, live sharing.

Each part prints its ratio against a baseline measured in the same run:
  ingest   tracking's upload service (what POST /api/v1/tracking/batches calls), batches of
           100 points from --threads threads, vs psycopg inserting the same event rows
           (same bytes, same indexes, one transaction per batch). Target ≥ 0.5 of the floor.
  rebuild  every tracking projection replayed from zero over the log the ingest wrote
           (--points points, 50 geofences), vs psycopg reading and decrypting the same
           events. Target ≥ 0.3 of the floor.
  lag      the projections' lag behind the log while ingest runs at half the measured rate.
           Target p99 < 1 s.
  live     upload → the recipient's socket, --pairs sharing pairs each uploading every 5 s,
           against one web and one realtime process. Target p99 < 100 ms.

Usage (its own database, dropped and migrated at each start; --database or
TRACKING_BENCH_DATABASE names it):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cleave REDIS_URL=redis://127.0.0.1:6379/4 \\
  python bench/tracking/run.py [--quick] [--points N] [--threads N] [--pairs N] [--json FILE]
The machine's load average is printed with the results: on a shared machine, compare the
systems within one run, not across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.tracking.common import (  # noqa: E402 - the path above first
    POINTS_PER_BATCH,
    geofences,
    load_average,
    log_start,
    prepare,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points ingested")
    parser.add_argument("--users", type=int, default=64, help="phones (device streams)")
    parser.add_argument("--threads", type=int, default=32, help="ingest connections")
    parser.add_argument("--lag-seconds", type=float, default=30)
    parser.add_argument("--pairs", type=int, default=1000, help="live-sharing pairs")
    parser.add_argument("--period", type=float, default=5.0, help="seconds between uploads")
    parser.add_argument("--live-seconds", type=float, default=45)
    parser.add_argument(
        "--live-warmup", type=float, default=15, help="first seconds reported apart (cold)"
    )
    parser.add_argument("--skip", action="append", default=[], help="ingest|rebuild|lag|live")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--database", default=os.environ.get("TRACKING_BENCH_DATABASE", "cleave_bench_tracking")
    )
    parser.add_argument("--quick", action="store_true", help="100,000 points, 100 pairs")
    parser.add_argument("--dry-run", action="store_true", help="every part, tiny: start-up")
    args = parser.parse_args()
    if args.quick:
        args.points, args.pairs, args.lag_seconds, args.live_seconds = 100_000, 100, 15, 20
        args.live_warmup = 5
    if args.dry_run:
        args.points, args.users, args.threads = 2_000, 4, 2
        args.pairs, args.lag_seconds, args.live_seconds, args.period = 3, 2, 3, 1.0
        args.live_warmup = 0
    results = run(args)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.tracking import ingest, live, rebuild

    prepare(args.database, connections=args.threads)
    results: dict[str, Any] = {
        "load_average_before": load_average(),
        "args": {**vars(args), "json": str(args.json) if args.json else None},
    }
    users = list(range(args.users))
    batches = max(args.points // POINTS_PER_BATCH, args.users)
    per_user = batches // args.users
    lag_batches = math.ceil(args.lag_seconds * 5_000 / POINTS_PER_BATCH / args.users) + 1
    start = log_start(per_user + lag_batches * 4)
    ingest.grant_consent([ingest.FIRST_USER + i for i in users])
    geofences(args.users)
    service = ingest.run_service(args.users, batches, args.threads, start)
    results["ingest"] = [ingest.summary("cleave service", service)]
    if "ingest" not in args.skip:
        floor = ingest.run_floor(service.appended, args.threads, service.points)
        results["ingest"].append(ingest.summary("psycopg floor", floor))
        results["ingest_ratio"] = round(floor.seconds and service.points / service.seconds
                                        / (floor.points / floor.seconds), 3)  # fmt: skip
        print(json.dumps(results["ingest"]), flush=True)
    if "rebuild" not in args.skip:
        events, points, floor_seconds = rebuild.floor_read()
        took = rebuild.rebuild_all()
        total = sum(took.values())
        results["rebuild"] = {
            "events": events,
            "points": points,
            "floor_points_per_s": round(points / floor_seconds),
            "rebuild_points_per_s": round(points / total),
            "per_projection_points_per_s": {n: round(points / s) for n, s in took.items()},
            "ratio": round(floor_seconds / total, 3),
            "ratio_slowest_projection": round(floor_seconds / max(took.values()), 3),
        }
        print(json.dumps(results["rebuild"]), flush=True)
    if "lag" not in args.skip:
        rate = service.points / service.seconds / 2
        results["lag"] = ingest.run_lag(
            args.users, args.threads, rate, args.lag_seconds, per_user, start
        )  # batch numbers from per_user on: after the ingest's, in time
        print(json.dumps(results["lag"]), flush=True)
    if "live" not in args.skip:
        pairs = live.make_pairs(args.pairs)
        with ExitStack() as stack:
            web, socket_url = live.servers(stack)
            results["live"] = asyncio.run(
                live.drive(
                    web,
                    socket_url,
                    pairs,
                    seconds=args.live_seconds,
                    period=args.period,
                    warmup=args.live_warmup,
                )  # fmt: skip
            )
        print(json.dumps(results["live"]), flush=True)
    results["load_average_after"] = load_average()
    return results


def report(results: dict[str, Any]) -> None:
    print(f"\nload average (1, 5, 15 min): before {results['load_average_before']}, "
          f"after {results['load_average_after']}")  # fmt: skip
    for row in results["ingest"]:
        print(f"ingest  {row['system']:<15} {row['points_per_s']:>8} points/s  batch p50 "
              f"{row['batch_p50_ms']} ms  p99 {row['batch_p99_ms']} ms")  # fmt: skip
    if "ingest_ratio" in results:
        print(f"ingest  ratio to the floor: {results['ingest_ratio']} (target ≥ 0.5)")
    if "rebuild" in results:
        r = results["rebuild"]
        print(f"rebuild {r['points']} points: all projections {r['rebuild_points_per_s']} "
              f"points/s, floor {r['floor_points_per_s']} points/s; ratio {r['ratio']} "
              f"(target ≥ 0.3), slowest alone {r['ratio_slowest_projection']}")  # fmt: skip
        for name, rate in r["per_projection_points_per_s"].items():
            print(f"        {name:<24} {rate:>8} points/s")
    if "lag" in results:
        lag = results["lag"]
        print(f"lag     at {lag['rate_points_per_s']} points/s: p50 {lag['lag_p50_s']} s, "
              f"p99 {lag['lag_p99_s']} s (target < 1 s), {lag['samples']} samples")  # fmt: skip
    if "live" in results:
        live = results["live"]
        print(f"live    {live['pairs']} pairs every {live['period_s']} s: upload → socket p50 "
              f"{live['p50_ms']} ms, p99 {live['p99_ms']} ms (target < 100 ms) after the first "
              f"{live['warmup_s']} s, which gave p50 {live['cold_p50_ms']} ms, p99 "
              f"{live['cold_p99_ms']} ms; "
              f"{live['frames']} frames, {live['lost']} lost, {live['upload_failures']} "
              f"failed uploads; upload p99 {live['upload_p99_ms']} ms")  # fmt: skip


if __name__ == "__main__":
    main()
