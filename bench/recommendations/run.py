"""Surge benchmark of recommendations' read path: the Procfile's `web` process, an open-loop
load of anonymous "popular near me" reads by cell, steady → ten-fold surge → steady, with the
protections (coalescing, stale-while-revalidate) and without them, in the same run.

    .venv/bin/python bench/recommendations/run.py            # phases 20 s / 60 s / 20 s
    .venv/bin/python bench/recommendations/run.py --quick    # phases 5 s / 15 s / 5 s

Real mode: DATABASE_URL's server gets a database of its own (`cleave_bench_recommendations`, or
CLEAVE_BENCH_DB; dropped, created, migrated and seeded here) and REDIS_URL's database is
FLUSHED before each configuration: give it one of its own.

Both loads go through bench/rawhttp.py, a lean keep-alive HTTP/1.1 client:
httpx's own CPU capped C near 270 req/s on two cores, measuring the client, not the server.

How it runs. Seed: 2,000 upcoming shows over 200 resolution-8 cells around Paris and 3,000
tickets (recommendations' read models, through its services). For each configuration a fresh
`web` (granian, as the Procfile runs it) is started; the cache is warmed, then the capacity C is
measured closed-loop on cache hits (32 concurrent readers for 10 s; C is the median of its whole
seconds after the first, which a slow moment of the machine moves less than the mean). Then an
asyncio generator sends requests open-loop (arrivals never wait for answers) at L = 5 % of C for
the steady phase, 10 × L for the surge, L again, each request for one of 50 cells (uniformly).
Per phase: p50/p99 from the scheduled arrival to the answer, errors (anything but a 200 not
degraded), computations per request (the shared counter `recs:computed`: 1 − it is the hit ratio
of the cache layers; it counts the popular snapshot's refreshes too), database
transactions per request (pg_stat_database; each autocommit query is one) and web CPU per
request (/proc). Last, a cold stampede: 1,000 concurrent requests for one cell never asked, and
how many times its list was computed. The baseline (`CLEAVE_RECOMMENDATIONS_PROTECTIONS=0`)
runs the same phases at the same rates, and so does the floor (bench/recommendations/floor.py on
the same server line, spending the protected surge's CPU per request); the last line sets the
targets beside the floor's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
from bench.rawhttp import Client  # noqa: E402 - after sys.path
from bench.recommendations.phases import (  # noqa: E402 - after sys.path
    Phase,
    closed_loop,
    collector_paused,
    open_loop,
)
from bench.recommendations.report import (  # noqa: E402 - after sys.path
    Measured,
    Stampede,
    report,
    surge_ratio,
)

DATABASE = os.environ.get("CLEAVE_BENCH_DB", "cleave_bench_recommendations")
CELLS_ASKED = 50
COMPUTED = "cache:1:recs:computed"  # Django's RedisCache key of cache.COMPUTED_KEY
STATS_SETTLE = [11.0]  # seconds; the dry run, whose figures mean nothing, waits 1
CAPACITY_SECONDS = [10.0]  # the closed-loop measurement of C; the dry run's is 2


def _environment() -> dict[str, str]:
    from cleave.testing.processes import process_env, real_mode_keys

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/recommendations needs real mode: set DATABASE_URL and REDIS_URL")
    env = process_env(
        {
            **real_mode_keys("bench_recommendations"),
            "DATABASE_URL": url.rsplit("/", 1)[0] + f"/{DATABASE}",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    env.pop("CLEAVE_VAR_DIR", None)
    return env


def _prepare(env: dict[str, str], *, shows: int) -> list[str]:
    """A fresh database, migrated and seeded; returns the cells the load asks for."""
    import psycopg

    server = env["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{DATABASE}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.settings"
    import django

    django.setup()
    return _seed(shows=shows, tickets=shows * 3 // 2)


def _seed(shows: int = 2000, cells: int = 200, tickets: int = 3000) -> list[str]:
    from datetime import timedelta

    import h3
    from django.utils import timezone

    from apps.recommendations.models import Ticket
    from apps.recommendations.services import signals

    rng = random.Random(22)  # a reproducible data set
    centre = h3.latlng_to_cell(48.8566, 2.3522, 8)
    area = sorted(str(cell) for cell in h3.grid_disk(centre, 8))[:cells]
    now = timezone.now()
    for number in range(1, shows + 1):
        starts = now + timedelta(days=rng.randint(1, 60))
        signals.show_record(
            show_id=number,
            title=f"show {number}",
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            city="Paris",
            cell=area[number % len(area)],
        )
    Ticket.objects.bulk_create(
        Ticket(
            ticket_id=f"t{n}",
            user_id=rng.randint(1, 1000),
            show_id=min(int(rng.paretovariate(1.2)), shows),
            order_ref=f"o{n}",
        )
        for n in range(tickets)
    )
    signals.recompute()  # popularity and co-purchases from the tickets, as the batch does
    return area[:CELLS_ASKED]


def _start_web(
    env: dict[str, str], protections: bool, *, floor: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """The Procfile's `web`; with `floor` (its environment), serving bench/recommendations/floor
    in place of cleave.wsgi, on the same server line."""
    from bench.load.real import procfile_line
    from cleave.testing.processes import free_port, wait_until_serving

    port = free_port()
    run_env = {
        **env,
        **(floor or {}),
        "HOST": "127.0.0.1",
        "WEB_PORT": str(port),
        "CLEAVE_RECOMMENDATIONS_PROTECTIONS": "1" if protections else "0",
    }
    line = procfile_line("web")
    if floor is not None:
        line = line.replace("cleave.wsgi:application", "bench.recommendations.floor:application")
    log_path = ROOT / "var" / "bench-recommendations-web.log"
    log_path.parent.mkdir(exist_ok=True)  # a fresh clone has no var/ yet
    log = log_path.open("ab")
    web = subprocess.Popen(  # noqa: S602 - the Procfile's own line
        line,
        shell=True,
        cwd=ROOT,
        env=run_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: its CPU, and stop_group ends it all
    )
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{base}/healthz", process=web, timeout=90)
    return web, base


def _web_cpu(pgid: int) -> float:
    """CPU seconds so far of the web process group."""
    from bench.load.cpu import snapshot

    processes = snapshot({"web": pgid}).processes.values()
    return sum(seconds for name, seconds in processes if name == "web")


def _counters(pgid: int) -> tuple[int, int, float]:
    """(computations so far, the database's transactions so far, the web group's CPU s)."""
    import psycopg

    # An idle backend reports its transactions to pg_stat_database after up to 10 s
    # (PostgreSQL 15's PGSTAT_IDLE_INTERVAL): wait them out, so each phase counts its own.
    time.sleep(STATS_SETTLE[0])
    computed = int(redis.Redis.from_url(os.environ["REDIS_URL"]).get(COMPUTED) or 0)
    server = os.environ["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg.connect(server + "/postgres", autocommit=True) as db:
        db.execute("SELECT pg_stat_clear_snapshot()")
        row = db.execute(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
            [DATABASE],
        ).fetchone()
    return computed, int(row[0]) if row else 0, _web_cpu(pgid)


async def _configuration(
    base: str,
    pgid: int,
    cells: list[str],
    stampede_cell: str | None,
    *,
    steady: float,
    surge: float,
    rate: float | None,
) -> Measured:
    lean = Client(base, max_connections=256)
    try:
        for cell in cells:  # warm: every asked cell computed once
            sample = (await lean.get(f"/api/v1/recommendations/nearby/cells/{cell}")).body
        capacity = await closed_loop(lean, cells, CAPACITY_SECONDS[0])
        low = rate if rate is not None else 0.05 * capacity.median
        phases = [Phase("steady", low), Phase("surge", 10 * low), Phase("after", low)]
        for phase, seconds in zip(phases, (steady, surge, steady), strict=True):
            computed, transactions, cpu = _counters(pgid)
            with collector_paused():
                await open_loop(lean, cells, phase, seconds)
            after = _counters(pgid)
            phase.computations = after[0] - computed
            phase.transactions = after[1] - transactions
            phase.cpu_seconds = after[2] - cpu
    finally:
        await lean.close()
    if stampede_cell is None:
        return Measured(capacity, phases, None, sample)
    # The stampede is about correctness (one computation), not the client's speed: httpx.
    limits = httpx.Limits(max_connections=1100, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        url = f"{base}/api/v1/recommendations/nearby/cells/{stampede_cell}"
        answers = await asyncio.gather(
            *(client.get(url) for _ in range(1000)), return_exceptions=True
        )
        time.sleep(STATS_SETTLE[0])  # the fetches that outlived their requests finish
        stampede = Stampede(
            computed=int(redis.Redis.from_url(os.environ["REDIS_URL"]).get(
                f"{COMPUTED}:recs:cell:{stampede_cell}"
            ) or 0),
            degraded=sum(
                1 for a in answers if isinstance(a, httpx.Response) and a.json()["degraded"]
            ),
            failed=sum(
                1 for a in answers if not isinstance(a, httpx.Response) or a.status_code != 200
            ),
        )  # fmt: skip
    return Measured(capacity, phases, stampede, sample)


async def _own_cpu_per_request(base: str, pgid: int, cells: list[str]) -> float:
    """The server's CPU per request (web group, closed loop) with nothing spent by the app."""
    lean = Client(base, max_connections=256)
    try:
        await closed_loop(lean, cells, 0.5)  # connections open, the server warm
        before = _web_cpu(pgid)
        served = (await closed_loop(lean, cells, CAPACITY_SECONDS[0])).answered
        return (_web_cpu(pgid) - before) / max(served, 1.0)
    finally:
        await lean.close()


def _floor(
    env: dict[str, str], cells: list[str], protected: Measured, *, steady: float, surge: float
) -> tuple[float, Measured]:
    """The same phases at the same rates against bench/recommendations/floor, which spends the
    protected surge's CPU per request: its own server cost measured first, the rest spun. Returns
    the spin (s per request) and the floor's figures."""
    from bench.load.real import stop_group

    surge_phase = protected.phases[1]
    cpu_per_request = surge_phase.cpu_seconds / max(surge_phase.requests(), 1)
    body = ROOT / "var" / "bench-recommendations-floor-body.json"
    body.write_bytes(protected.sample)
    floor = {"CLEAVE_FLOOR_BODY": str(body), "CLEAVE_FLOOR_SPIN_US": "0"}
    web, base = _start_web(env, True, floor=floor)
    try:
        own = asyncio.run(_own_cpu_per_request(base, web.pid, cells))
    finally:
        stop_group(web)
    spin = max(0.0, cpu_per_request - own)
    web, base = _start_web(env, True, floor={**floor, "CLEAVE_FLOOR_SPIN_US": f"{spin * 1e6:.0f}"})
    try:
        measured = asyncio.run(
            _configuration(base, web.pid, cells, None, steady=steady, surge=surge,
                           rate=protected.phases[0].rate)
        )  # fmt: skip
    finally:
        stop_group(web)
    return spin, measured


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="phases 5 s / 15 s / 5 s")
    parser.add_argument("--rate", type=float, help="the steady rate L (default: 5 %% of C)")
    parser.add_argument("--dry-run", action="store_true", help="set up, one tiny phase, exit")
    args = parser.parse_args()
    steady, surge = (5.0, 15.0) if args.quick else (20.0, 60.0)
    if args.dry_run:
        steady, surge, args.rate = 0.5, 0.5, 20.0
        STATS_SETTLE[0], CAPACITY_SECONDS[0] = 1.0, 2.0
    env = _environment()
    cells = _prepare(env, shows=200 if args.dry_run else 2000)
    from bench.load.real import stop_group

    failed, rate, results = False, args.rate, []
    for number, protections in enumerate((True, False)):
        redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
        web, base = _start_web(env, protections)
        try:
            measured = asyncio.run(
                _configuration(
                    base, web.pid, cells[: CELLS_ASKED - 2], cells[-1 - number],
                    steady=steady, surge=surge, rate=rate,
                )
            )  # fmt: skip
        finally:
            stop_group(web)
        # The baseline runs at the protected configuration's rates: the same load, compared.
        rate = measured.phases[0].rate if rate is None else rate
        label = (
            "protected" if protections else "baseline (no coalescing, no stale-while-revalidate)"
        )
        report(label, measured)
        results.append(measured)
        stampede_failed = measured.stampede is not None and measured.stampede.failed > 0
        failed |= stampede_failed or (protections and any(p.errors for p in measured.phases))
    spin, floor = _floor(env, cells[: CELLS_ASKED - 2], results[0], steady=steady, surge=surge)
    report(
        f"floor (bench/recommendations/floor.py on the same server line: no Django, no cache,"
        f" {1000 * spin:.2f} ms of CPU spun per request)",
        floor,
    )
    p99, ratio = surge_ratio(results[0])
    floor_p99, floor_ratio = surge_ratio(floor)
    print(
        f"targets: protected surge p99 {1000 * p99:.1f} ms (< 50 ms), surge/steady p99"
        f" {ratio:.2f} (<= 1.5); the floor's: {1000 * floor_p99:.1f} ms, {floor_ratio:.2f}"
    )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
