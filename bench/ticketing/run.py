"""On-sale benchmark: virtual buyers racing for few seats, driven open-loop, measured at the
database — ticketing's sharded hold path against the naive row lock, in the same run.

    .venv/bin/python bench/ticketing/run.py            # 5,000 buyers for 1,000 seats, 64 conns
    .venv/bin/python bench/ticketing/run.py --quick    # 1,000 buyers for 200 seats, 32 conns

Real mode: DATABASE_URL must point at PostgreSQL (its server gets a database of its own,
`cleave_bench_ticketing`, or CLEAVE_BENCH_DB, created and migrated here); no Redis, no HTTP.

How it runs. An asyncio generator releases one buyer every 1/rate seconds (open loop: arrivals
never wait for answers, so a design that cannot keep up builds a queue, and its latency shows
it). Each buyer takes one of `--connections` PostgreSQL connections (waiting for one is part of
its latency) and asks for one seat with the design's statements (bench/ticketing/designs.py).
Each design races for its own category of `--seats` (sharded: `--shards` counters; naive: the
category row locked). Per design it prints:
  - saturation (all buyers arriving at --max-rate): holds granted per second, from the first
    arrival to the last grant, and p50/p99 from arrival to answer;
  - the same at half the sharded design's measured maximum (the latency target's rate);
  - the invariants after each run: every hold released through ticketing's service
    (`hold_release`), then 0 oversold (granted ≤ seats; the counters agree with the holds and
    tickets: `selectors.invariant_violations`) and no hold left active;
  - CPU per granted hold, from the first arrival to the last grant: this driver's process and
    every PostgreSQL process on the machine (/proc), what the machine's cores could grant at
    that cost — the ceiling a design reaches when it never waits on a lock — and how busy the
    whole machine was meanwhile (/proc/stat). Run it on an otherwise quiet machine: other
    sessions' PostgreSQL work and CPU count too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.settings"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DEBUG", "false")
BENCH_DB = os.environ.get("CLEAVE_BENCH_DB", "cleave_bench_ticketing")

Hold = Callable[[Any, int, int, int], Awaitable[bool]]


def _prepare() -> str:
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("bench/ticketing needs real mode: set DATABASE_URL (PostgreSQL)")
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = f"{server}/{BENCH_DB}"
    from cleave.testing.processes import real_mode_keys

    # Real mode refuses development keys: the environment's, else this benchmark's own.
    for name, value in real_mode_keys("bench_ticketing").items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return os.environ["DATABASE_URL"]


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)  # seconds, arrival to answer
    granted: int = 0
    sold_out: int = 0
    last_grant: float = 0.0
    errors: list[str] = field(default_factory=list)
    cpu_at_start: tuple[float, float] = (0.0, 0.0)  # (this process, PostgreSQL) seconds
    cpu_at_last_grant: tuple[float, float] = (0.0, 0.0)
    machine_at_start: tuple[int, int] = (0, 0)  # (busy, total) jiffies of every core
    machine_at_last_grant: tuple[int, int] = (0, 0)

    def machine_busy(self) -> float:
        """The fraction of the machine's CPU time that was busy during the grant phase."""
        busy = self.machine_at_last_grant[0] - self.machine_at_start[0]
        total = self.machine_at_last_grant[1] - self.machine_at_start[1]
        return busy / total if total else 0.0

    def cpu_per_grant(self) -> tuple[float, float]:
        """(driver, PostgreSQL) CPU seconds per granted hold."""
        count = max(self.granted, 1)
        return (
            (self.cpu_at_last_grant[0] - self.cpu_at_start[0]) / count,
            (self.cpu_at_last_grant[1] - self.cpu_at_start[1]) / count,
        )


def _machine_now() -> tuple[int, int]:
    """(busy, total) jiffies summed over every core, from /proc/stat (idle and iowait idle)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal (guests are in user)
    return total - fields[3] - fields[4], total


def _cpu_now() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of every `postgres` process alive."""
    tick = os.sysconf("SC_CLK_TCK")
    postgres = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile
            continue
        name_end = stat.rfind(")")
        if stat[stat.find("(") + 1 : name_end] != "postgres":
            continue
        fields = stat[name_end + 2 :].split()  # from field 3 (state): utime is 14, stime 15
        postgres += int(fields[11]) + int(fields[12])
    return time.process_time(), postgres / tick


def _category(capacity: int, shards: int) -> int:
    from django.utils import timezone

    from apps.ticketing.services import shows

    venue = shows.venue_create(name="Bench Arena", city="Bench", latitude=0.0, longitude=0.0)
    starts = timezone.now() + timedelta(days=1)
    show = shows.show_create(
        venue_id=venue.pk, title="Bench", starts_at=starts, ends_at=starts + timedelta(hours=2)
    )
    category = shows.category_add(
        show_id=show.pk, name="Floor", capacity=capacity, price_cents=100, shard_count=shards
    )
    shows.show_publish(show_id=show.pk)
    return category.pk


async def _arrivals(rate: float, count: int) -> AsyncIterator[tuple[int, float]]:
    """(buyer number, scheduled arrival on perf_counter): one every 1/rate s, never waiting
    for an answer."""
    start = time.perf_counter()
    for number in range(count):
        due = start + number / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        yield number, due


async def _drive(
    url: str,
    hold: Hold,
    category_id: int,
    shards: int,
    *,
    rate: float,
    buyers: int,
    conns: int,
    capacity: int,
) -> tuple[Outcome, float]:
    from psycopg import AsyncConnection

    idle: asyncio.Queue[AsyncConnection] = asyncio.Queue()
    opened = [await AsyncConnection.connect(url, autocommit=True) for _ in range(conns)]
    for conn in opened:
        idle.put_nowait(conn)
    outcome = Outcome()

    async def buyer(number: int, due: float) -> None:
        conn = await idle.get()
        try:
            granted = await hold(conn, category_id, shards, number + 1)
        except Exception as exc:  # counted and printed: a benchmark must not hide failures
            outcome.errors.append(f"{type(exc).__name__}: {exc}")
            return
        finally:
            idle.put_nowait(conn)
        done = time.perf_counter()
        outcome.latencies.append(done - due)
        if granted:
            outcome.granted += 1
            outcome.last_grant = done
            if outcome.granted == capacity:  # sold out: the grant phase's CPU ends here
                outcome.cpu_at_last_grant = _cpu_now()
                outcome.machine_at_last_grant = _machine_now()
        else:
            outcome.sold_out += 1

    outcome.cpu_at_start = _cpu_now()
    outcome.machine_at_start = _machine_now()
    started = time.perf_counter()
    try:
        tasks = [asyncio.create_task(buyer(n, due)) async for n, due in _arrivals(rate, buyers)]
        await asyncio.gather(*tasks)
    finally:
        for conn in opened:
            await conn.close()
    return outcome, started


def _release_all_and_check(category_id: int, capacity: int, granted: int) -> list[str]:
    from apps.ticketing import selectors
    from apps.ticketing.models import Hold as HoldRow
    from apps.ticketing.services import holds

    problems = []
    if granted > capacity:
        problems.append(f"oversold: {granted} holds granted for {capacity} seats")
    problems += selectors.invariant_violations(category_id=category_id)
    active = HoldRow.objects.filter(category_id=category_id, status="active")
    if active.count() != granted:
        problems.append(f"{active.count()} active holds, {granted} granted")
    for hold_id in list(active.values_list("pk", flat=True)):
        holds.hold_release(hold_id=hold_id)
    if HoldRow.objects.filter(category_id=category_id, status="active").exists():
        problems.append("holds left active after release")
    if selectors.category_available(category_id=category_id) != capacity:
        problems.append("seats missing after every hold was released")
    return problems + selectors.invariant_violations(category_id=category_id)


def _run(
    url: str, design: str, *, capacity: int, buyers: int, rate: float, shards: int, conns: int
) -> tuple[Outcome, float, list[str]]:
    from bench.ticketing.designs import naive_hold, sharded_hold

    hold = sharded_hold if design == "sharded" else naive_hold
    shard_count = shards if design == "sharded" else 1
    category_id = _category(capacity, shard_count)
    outcome, started = asyncio.run(
        _drive(
            url,
            hold,
            category_id,
            shard_count,
            rate=rate,
            buyers=buyers,
            conns=conns,
            capacity=capacity,
        )
    )
    grant_rate = outcome.granted / max(outcome.last_grant - started, 1e-9)
    return outcome, grant_rate, _release_all_and_check(category_id, capacity, outcome.granted)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def _report(label: str, outcome: Outcome, grant_rate: float, problems: list[str]) -> None:
    print(
        f"  {label:<8} granted {outcome.granted:>5} at {grant_rate:6.0f} holds/s"
        f"  sold out {outcome.sold_out:>5}"
        f"  p50 {1000 * statistics.median(outcome.latencies or [0]):7.1f} ms"
        f"  p99 {1000 * _percentile(outcome.latencies, 0.99):7.1f} ms"
        f"  errors {len(outcome.errors)}  invariants {'OK' if not problems else problems[:3]}"
    )
    for error in outcome.errors[:3]:
        print(f"    error: {error}")
    driver, postgres = outcome.cpu_per_grant()
    if outcome.granted and driver + postgres > 0:
        cores = os.cpu_count() or 1
        print(
            f"           CPU per granted hold: driver {1e6 * driver:5.0f} µs + PostgreSQL"
            f" {1e6 * postgres:5.0f} µs: {cores} cores grant at most"
            f" {cores / (driver + postgres):6.0f} holds/s at that cost"
            f" (PostgreSQL's share alone: {cores / postgres if postgres else 0:6.0f});"
            f" the machine {100 * outcome.machine_busy():3.0f} % busy"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=5000)
    parser.add_argument("--seats", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--max-rate", type=float, default=20000.0, help="arrivals/s, saturation")
    parser.add_argument("--quick", action="store_true", help="1,000 buyers, 200 seats, 32 conns")
    parser.add_argument(
        "--dry-run", action="store_true", help="prepare the database and a tiny race, then exit"
    )
    args = parser.parse_args()
    if args.quick:
        args.buyers, args.seats, args.connections = 1000, 200, 32
    if args.dry_run:  # .ci/bench-commands: the start-up and both designs, in seconds
        args.buyers, args.seats, args.connections, args.max_rate = 60, 20, 4, 2000.0
    url = _prepare()
    print(
        f"bench/ticketing: {args.buyers} buyers for {args.seats} seats, {args.connections} "
        f"connections, sharded = {args.shards} shards (PostgreSQL, database {BENCH_DB})"
    )
    failed = False
    common = {"capacity": args.seats, "buyers": args.buyers, "shards": args.shards}
    rates = {}
    print(f"saturation: arrivals at {args.max_rate:.0f}/s")
    for design in ("sharded", "naive"):
        outcome, grant_rate, problems = _run(
            url, design, rate=args.max_rate, conns=args.connections, **common
        )
        rates[design] = grant_rate
        failed |= bool(problems or outcome.errors)
        _report(design, outcome, grant_rate, problems)
    print(f"  hold throughput, sharded / naive: {rates['sharded'] / rates['naive']:.1f}x")
    half = rates["sharded"] / 2
    print(f"at half the sharded maximum: arrivals at {half:.0f}/s")
    for design in ("sharded", "naive"):
        outcome, grant_rate, problems = _run(
            url, design, rate=half, conns=args.connections, **common
        )
        failed |= bool(problems or outcome.errors)
        _report(design, outcome, grant_rate, problems)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
