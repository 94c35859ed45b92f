"""Hold throughput at the database: the hold designs driven by `pgbench`, in the same run.

    .venv/bin/python bench/ticketing/pgbench.py              # 64 connections, 3 rounds of 10 s
    .venv/bin/python bench/ticketing/pgbench.py --seconds 5  # shorter rounds

bench/ticketing/run.py races buyers through a Python driver (asyncio + psycopg), which costs
~270 µs of CPU per hold on the same two cores PostgreSQL needs: there the client, not the
database's design, sets the ceiling. Here PostgreSQL's own client in C sends the very same
statements (rendered from apps.ticketing.services.hold_statements and bench/ticketing/designs.py
into pgbench scripts), so the figure is the database's: holds granted per second with
`--connections` connections (64, as the issue measures), `-j 2` client threads, prepared
statements, `--seconds` per design in each of `--rounds` rounds. Each round runs the designs in
another order (none always first or last), and the rates reported are every round's holds over
every round's seconds: a few seconds in which the machine's neighbours took a core fall on one
design's reading, not on the ratio.

- **sharded**: ticketing's hot path. TAKE_FREE_SHARD (a shard with room up from a random one,
  then from the first up to it, SKIP LOCKED, the seat taken and the hold written in one
  autocommit statement); when every shard with room is locked, TAKE_WAITING, up to
  services.holds.WAITING_ATTEMPTS times, as the service does. The hold's id is random, as a
  saga's key-named id is, and its key column NULL, as such a hold's is (Hold.id_for_key).
- **naive**: BEGIN; the category's row FOR NO KEY UPDATE; the same statement on its one
  counter; COMMIT. Every buyer queues on that row for a whole transaction.
- **floor**: not a design, what a hold's rows cost: the same UPDATE of a counter and the same
  INSERT of the hold in one autocommit statement, on a shard drawn at random (no pick, no SKIP
  LOCKED, no check for room: alone it would oversell a nearly full category). A buyer whose
  drawn shard is locked waits for it, which the design's pick avoids: the design can beat it.
- **commit**: not a design either: one counter row rewritten to the same value and committed,
  nothing recorded. What one write transaction costs on these connections, so no design that
  commits a transaction per hold goes past it.

Each design gets its own category with more seats than a run can sell (so every transaction
grants a hold and the rate is the design's, not a sell-out's). Afterwards the script checks that
the holds written equal the transactions pgbench counted and that the counters agree with the
holds (`selectors.invariant_violations`), then deletes the run's holds and vacuums. It prints
CPU per hold (pgbench's, and the rest of the machine's: PostgreSQL's on a quiet machine) and how
busy the machine was. Exits non-zero on a failed transaction or a broken invariant.

Real mode: DATABASE_URL must point at PostgreSQL; the database is bench/ticketing's own
(`cleave_bench_ticketing`, or CLEAVE_BENCH_DB). `pgbench` comes with PostgreSQL's client
(Debian: postgresql-client).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.ticketing import run as race  # sets up sys.path and the settings module

SEATS = 100_000_000  # more than any run sells: each transaction grants one hold
# The batched design's statements at once and their depth: services.hold_batches keeps one
# writer per lane (CLEAVE_TICKETING_HOLD_LANES, 4), and `--connections` buyers that come back as
# soon as they are answered keep each lane's queue connections / lanes deep (16 with 64).
LANES = 4


def _pgbench_sql(statement: str) -> str:
    """A hold statement as pgbench runs it: named parameters become pgbench variables or the
    SQL the service would have bound (a fresh uuid, a saga step's key, the clock), the answer's
    NULLs zeros."""
    values = {
        "quantity": "1",
        # A hold placed by a purchase saga's step has its key's name-based UUID for its id (as
        # random as this one) and no key column (Hold.id_for_key).
        "hold_id": "gen_random_uuid()",
        "key": "NULL",
        "now": "clock_timestamp()",
        "expires_at": "clock_timestamp() + interval '10 minutes'",
    }
    sql = re.sub(r"%\((\w+)\)s", lambda m: values.get(m.group(1), ":" + m.group(1)), statement)
    sql = sql.replace("%%", "%")
    answer = "SELECT (SELECT id FROM pick) AS picked, (SELECT shard_id FROM hold) AS taken"
    if answer not in sql:
        raise RuntimeError("hold_statements changed its answer: update bench/ticketing/pgbench")
    coalesced = (
        "SELECT coalesce((SELECT id FROM pick), 0) AS picked,"
        " coalesce((SELECT shard_id FROM hold), 0) AS taken"
    )
    return " ".join(sql.replace(answer, coalesced).split())


def _batch_sql(statement: str, depth: int) -> str:
    """BATCH_STATEMENT as pgbench runs it: `depth` one-seat requests of random buyers, with
    fresh ids, as services.hold_batches binds them."""
    each = {
        "ids": "gen_random_uuid()",
        "user_ids": "(random() * 1e9)::bigint",
        "quantities": "1",
        "expires": "clock_timestamp() + interval '10 minutes'",
        "created": "clock_timestamp()",
    }
    values = {name: f"ARRAY[{', '.join([sql] * depth)}]" for name, sql in each.items()}
    values["least"] = "1"
    sql = re.sub(r"%\((\w+)\)s", lambda m: values.get(m.group(1), ":" + m.group(1)), statement)
    return " ".join(sql.replace("%%", "%").split())


def scripts(depth: int = 16) -> dict[str, str]:
    """The pgbench script of each design (`depth`: the batched design's requests a statement)."""
    from apps.ticketing.services import hold_statements as statements
    from apps.ticketing.services.holds import WAITING_ATTEMPTS
    from bench.ticketing.designs import _LOCK_CATEGORY

    head = "\\set start random(0, :shards - 1)\n\\set user_id random(1, 1000000000)\n"
    free = _pgbench_sql(statements.TAKE_FREE_SHARD)
    waiting = _pgbench_sql(statements.TAKE_WAITING)
    sharded = [head, f"{free} \\gset\n"]
    for _ in range(WAITING_ATTEMPTS):  # every shard with room was locked, or the race lost
        sharded.append(f"\\if :taken = 0\n{waiting} \\gset\n")
    sharded.append("\\endif\n" * WAITING_ATTEMPTS)
    lock = _LOCK_CATEGORY.replace("%s", ":category_id")
    naive = [head, "BEGIN;\n", f"{lock};\n", f"{free} \\gset\n", "END;\n"]
    # The floor: the counter is the shard drawn, not a picked one with room.
    pick = free[free.index("WITH pick AS (") : free.index("), taken AS (")]
    drawn = "WITH pick AS ( SELECT id FROM ticketing_categoryshard"
    drawn += " WHERE category_id = :category_id AND index = :start"
    floor = free.replace(pick, drawn)
    # The commit: one counter row rewritten (to the same value) and committed, nothing recorded.
    commit = "UPDATE ticketing_categoryshard SET held = held"
    commit += " WHERE category_id = :category_id AND index = :start;\n"
    return {
        "sharded": "".join(sharded),
        "batched": "".join([head, _batch_sql(statements.BATCH_STATEMENT, depth), " \\gset\n"]),
        "naive": "".join(naive),
        "floor": "".join([head, f"{floor} \\gset\n"]),
        "commit": "".join([head, commit]),
    }


@dataclass
class Result:
    design: str
    transactions: int
    failed: int
    seconds: float
    latency_ms: float
    cpu_client: float  # CPU seconds of pgbench
    cpu_rest: float  # CPU seconds of every other process: PostgreSQL on a quiet machine
    busy: float  # fraction of the machine's CPU time busy
    problems: list[str]

    @property
    def rate(self) -> float:
        return self.transactions / self.seconds if self.seconds else 0.0


def _measure(
    url: str, design: str, script: str, *, shards: int, conns: int, secs: int, per: int = 1
) -> Result:
    """One design's round: `per` holds a transaction (a batch's depth)."""
    category_id = race._category(SEATS, shards)
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix=f"hold-{design}-") as file:
        file.write(script)
        file.flush()
        command = [
            "pgbench", "--no-vacuum", "--protocol=prepared", f"--client={conns}",
            "--jobs=2", f"--time={secs}", f"--file={file.name}",
            f"--define=category_id={category_id}", f"--define=shards={shards}", url,
        ]  # fmt: skip
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        machine_start = race._machine_now()
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
        machine_end = race._machine_now()
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 2):  # 2: some transactions failed (reported below)
        sys.exit(f"pgbench failed ({done.returncode}):\n{done.stderr or done.stdout}")
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    measured = re.search(r"duration: (\d+) s", done.stdout)
    if processed is None or latency is None:
        sys.exit(f"pgbench's report was not understood:\n{done.stdout}\n{done.stderr}")
    transactions = int(processed.group(1)) * per
    busy_jiffies = machine_end[0] - machine_start[0]
    busy = busy_jiffies / max(machine_end[1] - machine_start[1], 1)
    # pgbench's backends end with it, before /proc could be read: PostgreSQL's CPU is what the
    # whole machine spent less pgbench's own (this script sleeps in subprocess.run meanwhile).
    cpu_client = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return Result(
        design=design,
        transactions=transactions,
        failed=int(failed.group(1)) if failed else 0,
        seconds=float(measured.group(1)) if measured else seconds,
        latency_ms=float(latency.group(1)),
        cpu_client=cpu_client,
        cpu_rest=busy_jiffies / os.sysconf("SC_CLK_TCK") - cpu_client,
        busy=busy,
        problems=_check_and_clear(category_id, 0 if design == "commit" else transactions),
    )


def _check_and_clear(category_id: int, transactions: int) -> list[str]:
    """Every transaction wrote one hold and the counters agree; then the run's holds go (with
    no service call each: they number in the tens of thousands, in a database of our own)."""
    from django.db import connection, transaction

    from apps.ticketing import selectors
    from apps.ticketing.models import CategoryShard, Hold, HoldAllocation

    problems = list(selectors.invariant_violations(category_id=category_id))
    written = Hold.objects.filter(category_id=category_id).count()
    if written != transactions:
        problems.append(f"{written} holds written, {transactions} transactions granted one each")
    with transaction.atomic():
        HoldAllocation.objects.filter(hold__category_id=category_id).delete()
        Hold.objects.filter(category_id=category_id).delete()
        CategoryShard.objects.filter(category_id=category_id).update(held=0)
    with connection.cursor() as cursor:  # the next design meets no dead rows of this one
        cursor.execute("VACUUM ticketing_hold, ticketing_holdallocation, ticketing_categoryshard")
    return problems


def _report(result: Result, round_number: int) -> None:
    per_hold = 1e6 / max(result.transactions, 1)
    cores = os.cpu_count() or 1
    print(
        f"  {round_number}  {result.design:<8} {result.rate:7.0f} holds/s"
        f"  latency avg {result.latency_ms:6.1f} ms  failed {result.failed}"
        f"  invariants {'OK' if not result.problems else result.problems[:3]}"
    )
    client, rest = result.cpu_client * per_hold, result.cpu_rest * per_hold
    print(
        f"              CPU per hold: pgbench {client:4.0f} µs + the rest of the machine"
        f" (PostgreSQL when quiet) {rest:4.0f} µs"
        f" ({cores} cores: at most {cores * 1e6 / max(client + rest, 1):6.0f} holds/s at that"
        f" cost); the machine {100 * result.busy:3.0f} % busy"
    )


def _rate(results: list[Result]) -> float:
    """Holds per second over every round: all transactions over all seconds."""
    return sum(r.transactions for r in results) / max(sum(r.seconds for r in results), 1e-9)


DESIGNS = ("sharded", "batched", "naive", "floor", "commit")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="per design and round")
    parser.add_argument(
        "--batch-depth", type=int, help="requests a batched statement (connections / writers)"
    )
    parser.add_argument(
        "--batch-writers", type=int, default=LANES, help="batched statements at once (lanes)"
    )
    parser.add_argument(
        "--designs", default=",".join(DESIGNS), help="which to run (naive always runs)"
    )
    parser.add_argument("--show-scripts", action="store_true", help="print them and exit")
    parser.add_argument("--dry-run", action="store_true", help="1 s per design, 4 connections")
    args = parser.parse_args()
    if args.dry_run:  # .ci/bench-commands: the start-up and every design, in seconds
        args.connections, args.seconds, args.rounds = 4, 1, 1
    if shutil.which("pgbench") is None:
        sys.exit(
            "bench/ticketing/pgbench.py needs pgbench (Debian: apt-get install postgresql-client)"
        )
    url = race._prepare()
    writers = max(1, min(args.batch_writers, args.connections))
    depth = args.batch_depth or max(1, args.connections // writers)
    chosen = tuple(d for d in DESIGNS if d in args.designs.split(",") or d == "naive")
    designs = scripts(depth)
    if args.show_scripts:
        for design, script in designs.items():
            print(f"-- {design}\n{script}")
        return
    print(
        f"bench/ticketing/pgbench: {args.connections} connections, 2 pgbench threads,"
        f" {args.rounds} rounds of {args.seconds} s per design (each round in another order),"
        f" sharded = {args.shards} shards, batched = {writers} writers of {depth} requests a"
        f" statement (database {race.BENCH_DB})"
    )
    results: dict[str, list[Result]] = {design: [] for design in chosen}
    for round_number in range(1, args.rounds + 1):
        turn = (round_number - 1) % len(chosen)
        for design in chosen[turn:] + chosen[:turn]:  # no design always first or last
            shards = 1 if design == "naive" else args.shards
            batched = design == "batched"
            result = _measure(
                url, design, designs[design], shards=shards,
                conns=writers if batched else args.connections,
                secs=args.seconds, per=depth if batched else 1,
            )  # fmt: skip
            results[design].append(result)
            _report(result, round_number)
    rates = {design: _rate(results[design]) for design in chosen}
    naive = max(rates["naive"], 1e-9)
    print("  over every round:")
    for design in chosen:
        print(f"    {design:<8} {rates[design]:7.0f} holds/s  {rates[design] / naive:4.1f}x naive")
    for design in ("sharded", "batched"):
        if design in chosen:
            each = [
                d.rate / max(n.rate, 1e-9)
                for d, n in zip(results[design], results["naive"], strict=True)
            ]
            print(
                f"  hold throughput, {design} / naive: {rates[design] / naive:.1f}x"
                f" (round by round: {', '.join(f'{ratio:.1f}x' for ratio in each)})"
            )
    if {"sharded", "floor", "commit"} <= set(chosen):
        print(
            f"  sharded / the floor: {rates['sharded'] / max(rates['floor'], 1e-9):.2f};"
            f" the commit / naive: {rates['commit'] / naive:.1f}x (no design that commits a"
            " transaction per hold on these connections gets past it here)"
        )
    broken = any(r.problems or r.failed for runs in results.values() for r in runs)
    sys.exit(1 if broken else 0)


if __name__ == "__main__":
    main()
