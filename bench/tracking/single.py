"""One upload at a time: milliseconds and SQL statements per batch (real mode, one thread).

What a single upload costs with no other writer, to compare the upload service before and
after a change on the same machine (bench/tracking's ingest part measures throughput under 32
threads; this one measures the path). Phones as in bench/tracking (batches of 100 points, a
40-minute gap every 20 batches ends a trip), each phone's batches in order, round robin:
  timed    `--batches` rounds over `--users` phones, `--runs` times (new phones each run, on
           one database dropped and migrated at the start): median ms per batch of each run,
           and the median of those.
  counted  `--counted` more rounds, each batch's statements captured on the tracking
           database (Django's CaptureQueriesContext, BEGIN and COMMIT included); `--show`
           prints a typical batch's SQL.

Usage (its own database, dropped at each run; --database names it):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/x REDIS_URL=redis://127.0.0.1:6379/4 \\
  python bench/tracking/single.py [--users 4] [--batches 60] [--runs 3] [--show]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.tracking.common import (  # noqa: E402 - the path above first
    batch_points,
    load_average,
    log_start,
    prepare,
)
from bench.tracking.ingest import FIRST_USER, grant_consent  # noqa: E402


def upload(user_index: int, number: int, start: datetime) -> None:
    from apps.tracking.services.ingest import batch_ingest

    result = batch_ingest(
        user_id=FIRST_USER + user_index,
        session_id=f"single-{user_index}",
        batch_id=f"single-{user_index}-{number}",
        device_time=datetime.now(UTC),
        points=batch_points(user_index, number, start),
        actions=[],
    )
    assert result["accepted"]["points"] == 100, result  # noqa: S101 - a wrong run is no number


def timed(users: range, batches: int, start: datetime) -> list[float]:
    samples = []
    for number in range(batches):
        for user_index in users:
            began = time.perf_counter()
            upload(user_index, number, start)
            samples.append((time.perf_counter() - began) * 1000)
    return samples


def counted(users: range, first: int, rounds: int, start: datetime) -> list[list[str]]:
    from django.db import connections
    from django.test.utils import CaptureQueriesContext

    from apps.tracking.selectors import DB

    batches = []
    for number in range(first, first + rounds):
        for user_index in users:
            with CaptureQueriesContext(connections[DB]) as captured:
                upload(user_index, number, start)
            batches.append([query["sql"] for query in captured.captured_queries])
    return batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=4, help="phones (device streams)")
    parser.add_argument("--batches", type=int, default=60, help="timed batches per phone")
    parser.add_argument("--counted", type=int, default=20, help="counted batches per phone")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", default="cleave_bench_tracking_single")
    parser.add_argument("--show", action="store_true", help="print a typical batch's SQL")
    args = parser.parse_args()
    medians, statements = [], []
    print(f"load average before: {load_average()}", flush=True)
    prepare(args.database, connections=1)
    start = log_start(args.batches + args.counted)
    for run in range(args.runs):
        users = range(run * args.users, (run + 1) * args.users)
        grant_consent([FIRST_USER + i for i in users])
        samples = timed(users, args.batches, start)
        medians.append(statistics.median(samples))
        print(
            f"run {run + 1}: {len(samples)} batches, median {medians[-1]:.1f} ms, "
            f"p90 {statistics.quantiles(samples, n=10)[-1]:.1f} ms",
            flush=True,
        )
        if run == 0:
            statements = counted(users, args.batches, args.counted, start)
    sizes = [len(batch) for batch in statements]
    print(f"load average after: {load_average()}")
    print(f"median ms per batch over {args.runs} runs: {statistics.median(medians):.1f}")
    print(
        f"statements per batch (BEGIN and COMMIT included): median {statistics.median_low(sizes)}, "
        f"mean {statistics.mean(sizes):.2f}, spread {sorted(Counter(sizes).items())}"
    )
    if args.show:
        typical = next(batch for batch in statements if len(batch) == statistics.median_low(sizes))
        for sql in typical:
            print("  ", sql[:160])


if __name__ == "__main__":
    main()
