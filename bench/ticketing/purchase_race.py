"""The issue's race as whole purchases: buyers racing for few seats through the purchase saga,
real mode, open loop — purchases completed per second, and the money checked afterwards.

    .venv/bin/python bench/ticketing/purchase_race.py       # 600 buyers, 200 seats, 20 a second
    .venv/bin/python bench/ticketing/purchase_race.py --buyers 5000 --seats 1000 --rate 250 \
        --timeout 300                                     # the issue's race

The defaults finish in about half a minute here; the issue's race takes two to three minutes
after the last arrival (about 8 purchases a second on two cores, docs/benchmarks.md), so give it
a longer `--timeout`: an order still unfinished then fails the run (exit 1).

What runs, as in production: the Procfile's `worker`, `events` and `beat` (the saga's steps go
through the outbox and Celery), payments on its Stripe adapter against the fake Stripe server
(apps.payments.testing.fake_stripe over loopback HTTP, which counts captures and refunds per
idempotency key), and `--processes` buyer processes. Each buyer arrives at its time (open loop,
`--rate` a second: an arrival never waits for another's answer) and does what the app does:
place an order with an idempotency key (`orders.order_place`, which takes the seats' hold: a
buyer past the last seat is told sold out there and then), and once the order awaits payment,
confirm its intent as the provider's SDK would (payments' test-mode confirmation; every
`--decline-every`-th buyer's card is declined). A process's threads only place and confirm;
one loop per process reads its orders' states (a query every 100 ms) and times each from
arrival to its end.

Reports: purchases completed per second (first arrival to last completion), order p50/p99 from
arrival to completed, placing p50/p99 (the hold; arrival to answer, granted and sold out apart),
and how the others ended (sold out at once, cancelled and why). Then the
invariants, from the database and the provider's own counts:
  - no idempotency key captured twice, no refund without its capture;
  - each completed order: one capture, no refund, as many valid tickets as seats;
  - each cancelled order (declined; lost the race at the hold): charged nothing — every
    capture refunded — and no valid ticket;
  - no order left unfinished, no hold left active, tickets ≤ seats, and the counters agree
    (selectors.invariant_violations).
Exits 1 when one fails or a buyer met an error.

Real mode: DATABASE_URL (PostgreSQL; the race gets a fresh database `cleave_bench_purchase`)
and REDIS_URL, whose server's database 14 (PURCHASE_RACE_REDIS_DB) the race takes and FLUSHES
first: Celery's queues live there, and an earlier run's tasks must not reach this one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.ticketing import children  # noqa: E402 - after sys.path
from bench.ticketing.run import _percentile  # noqa: E402

BENCH_DB = "cleave_bench_purchase"
SECRET_KEY = "sk_test_bench_purchase"  # noqa: S105 - the fake provider's, on loopback
WEBHOOK_SECRET = "whsec_bench_purchase"  # noqa: S105 - the fake provider's, on loopback
PROCESSES = ("worker", "events", "beat")  # the Procfile's lines that run sagas
FINAL = ("completed", "cancelled")
DECLINING = "pm_card_chargeDeclined"


def _environment(stripe: str) -> dict[str, str]:
    """Every process's environment: this benchmark's database, keys and provider."""
    from cleave.testing.processes import process_env, real_mode_keys

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/ticketing/purchase_race.py needs real mode: DATABASE_URL and REDIS_URL")
    server = os.environ["REDIS_URL"].split("?")[0].rsplit("/", 1)[0]
    return process_env(
        {
            **real_mode_keys("bench_purchase"),
            "DATABASE_URL": f"{url.rsplit('/', 1)[0]}/{BENCH_DB}",
            "REDIS_URL": f"{server}/{os.environ.get('PURCHASE_RACE_REDIS_DB', '14')}",
            "DJANGO_SETTINGS_MODULE": "cleave.settings",
            "CLEAVE_MODE": "real",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "LOG_LEVEL": "WARNING",
            "CLEAVE_PAYMENTS_PROVIDER": "stripe",
            "CLEAVE_STRIPE_API_BASE": stripe,
            "CLEAVE_STRIPE_SECRET_KEY": SECRET_KEY,
            "CLEAVE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "CLEAVE_PAYMENTS_TEST_CONFIRM": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )


def _fresh_stores(env: dict[str, str]) -> None:
    """A new database, migrated, and the Redis database emptied (queues of an earlier run)."""
    import psycopg
    import redis

    server = env["DATABASE_URL"].rsplit("/", 1)[0]
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        db.execute(f'CREATE DATABASE "{BENCH_DB}"')
    redis.Redis.from_url(env["REDIS_URL"]).flushdb()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip


def _setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    os.chdir(ROOT)
    import django

    django.setup()


def _seed(seats: int) -> int:
    """A published show with one category of `seats`; its id."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.ticketing.services import shows

    venue = shows.venue_create(name="Race Hall", city="Lyon", latitude=45.76, longitude=4.83)
    starts = timezone.now() + timedelta(days=30)
    show = shows.show_create(
        venue_id=venue.pk,
        title="The on-sale",
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
    )
    category = shows.category_add(show_id=show.pk, name="Floor", capacity=seats, price_cents=4500)
    shows.show_publish(show_id=show.pk)
    return int(category.pk)


# --- A buyer process --------------------------------------------------------------------------
def _child(args: argparse.Namespace) -> None:
    """Buyers number `index`, `index + processes`, …; prints "ready", reads the start time,
    then prints one JSON line."""
    _setup_django(dict(os.environ))
    from apps.payments.error_codes import PaymentDeclined
    from apps.payments.services import intents
    from apps.ticketing.error_codes import SoldOut
    from apps.ticketing.models import Order
    from apps.ticketing.services import orders

    lock = threading.Lock()
    placing = [0]  # placements released and not yet answered
    arrived: dict[uuid.UUID, tuple[float, str]] = {}  # order → (arrival, card)
    confirmed: set[uuid.UUID] = set()
    ends: dict[str, Any] = {"sold_out": 0, "errors": 0, "cancelled": {}, "completed": []}
    # Placing is the hold (order_place takes it): arrival to answer, granted and refused.
    ends["placing_ms"] = {"placed": [], "sold_out": []}

    def place(number: int, due: float) -> None:
        card = DECLINING if args.decline_every and number % args.decline_every == 0 else ""
        try:
            order = orders.order_place(
                user_id=number + 1, category_id=args.child, quantity=1,
                idempotency_key=str(uuid.uuid4()),
            )  # fmt: skip
            outcome = "placed"
        except SoldOut:
            outcome = "sold_out"
        except Exception as error:  # counted and printed: a benchmark must not hide failures
            print(f"place: {type(error).__name__}: {error}", file=sys.stderr)
            outcome = "errors"
        took_ms = 1000 * (time.time() - due)
        with lock:
            placing[0] -= 1
            if outcome in ends["placing_ms"]:
                ends["placing_ms"][outcome].append(took_ms)
            if outcome == "placed":
                arrived[order.pk] = (due, card or "pm_card_visa")
            else:
                ends[outcome] += 1

    def confirm(order_id: uuid.UUID, intent_id: int, card: str) -> None:
        try:
            intents.intent_confirm(
                intent_id=intent_id, idempotency_key=f"app-confirm:{order_id}",
                payment_method=card,
            )  # fmt: skip
        except PaymentDeclined:  # the declined card: its order is cancelled, as the app sees
            pass
        except Exception as error:  # counted and printed: a benchmark must not hide failures
            print(f"confirm: {type(error).__name__}: {error}", file=sys.stderr)
            with lock:
                ends["errors"] += 1

    print("ready", flush=True)
    start = float(sys.stdin.readline())
    mine = range(args.index, args.buyers, args.processes)
    with ThreadPoolExecutor(max_workers=args.threads) as pool:

        def release() -> None:
            for number in mine:
                due = start + number / args.rate
                if (delay := due - time.time()) > 0:
                    time.sleep(delay)
                with lock:
                    placing[0] += 1
                pool.submit(place, number, due)

        releaser = threading.Thread(target=release)
        releaser.start()
        deadline = start + len(mine) / max(args.rate / args.processes, 1e-9) + args.timeout
        while time.time() < deadline:
            time.sleep(0.1)
            with lock:
                pending, placed_all = dict(arrived), not releaser.is_alive() and not placing[0]
            if not pending:
                if placed_all:
                    break
                continue
            rows = Order.objects.filter(pk__in=list(pending)).values_list(
                "pk", "status", "reason", "payment_intent_id"
            )
            now = time.time()
            for order_id, status, reason, intent_id in rows:
                due, card = pending[order_id]
                if status == "awaiting_payment" and intent_id and order_id not in confirmed:
                    confirmed.add(order_id)
                    pool.submit(confirm, order_id, intent_id, card)
                elif status in FINAL:
                    with lock:
                        del arrived[order_id]
                        if status == "completed":
                            ends["completed"].append([now - due, now])
                        else:
                            ends["cancelled"][reason] = ends["cancelled"].get(reason, 0) + 1
        releaser.join()
    with lock:
        ends["unfinished"] = len(arrived)
    print(json.dumps(ends))


# --- The race ---------------------------------------------------------------------------------
class Provider:
    """The fake Stripe server, a process of its own on loopback."""

    def __init__(self) -> None:
        from cleave.testing.processes import free_port, wait_until_serving

        self.base = f"http://127.0.0.1:{free_port()}"
        env = {**os.environ, "FAKE_STRIPE_SECRET_KEY": SECRET_KEY,
               "FAKE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}  # fmt: skip
        self.process = subprocess.Popen(
            [sys.executable, "-m", "apps.payments.testing.fake_stripe",
             "--port", self.base.rsplit(":", 1)[1]],
            cwd=ROOT, env=env, start_new_session=True,
        )  # fmt: skip
        wait_until_serving(f"{self.base}/_health", process=self.process, timeout=30)

    def counts(self) -> dict[str, dict[str, int]]:
        """Captures and refunds per idempotency key (the saga's keys name its order)."""
        with urllib.request.urlopen(f"{self.base}/_inspect", timeout=30) as answer:  # noqa: S310 - loopback
            found: dict[str, dict[str, int]] = json.loads(answer.read())
        return found


def _start_sagas(env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """The Procfile's worker, events and beat; their logs in var/bench-purchase-<name>.log."""
    from bench.load.real import procfile_line
    from cleave.testing.processes import free_port

    env = {**env, "WORKER_METRICS_PORT": str(free_port()), "EVENTS_METRICS_PORT": str(free_port())}
    (ROOT / "var").mkdir(exist_ok=True)
    started = []
    for name in PROCESSES:
        with (ROOT / "var" / f"bench-purchase-{name}.log").open("wb") as log:
            started.append(
                subprocess.Popen(  # noqa: S602 - the Procfile's own line
                    procfile_line(name),
                    shell=True,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )  # fmt: skip
            )
    return started


def _problems(category_id: int, seats: int, counts: dict[str, dict[str, int]]) -> list[str]:
    """What the race broke (empty: nothing), from the database and the provider's counts."""
    from apps.ticketing import selectors
    from apps.ticketing.models import Hold, Order, Ticket

    problems = [f"{key} captured {n} times" for key, n in counts["captures"].items() if n > 1]
    problems += [f"{key} refunded {n} times" for key, n in counts["refunds"].items() if n > 1]
    valid: dict[str, int] = {}
    for ref in Ticket.objects.filter(status="valid").values_list("order_ref", flat=True):
        valid[ref] = valid.get(ref, 0) + 1
    for order_id, status, quantity in Order.objects.filter(category_id=category_id).values_list(
        "pk", "status", "quantity"
    ):
        mine = str(order_id)
        captured = sum(1 for key in counts["captures"] if mine in key)
        refunded = sum(1 for key in counts["refunds"] if mine in key)
        if refunded > captured:
            problems.append(f"order {mine}: a refund without its capture")
        if status == "completed" and (captured, refunded, valid.get(mine, 0)) != (1, 0, quantity):
            problems.append(f"order {mine} completed with {captured} captures, {refunded} "
                            f"refunds, {valid.get(mine, 0)} tickets")  # fmt: skip
        elif status == "cancelled" and (captured != refunded or valid.get(mine)):
            problems.append(f"order {mine} cancelled, charged: {captured} captures, {refunded} "
                            f"refunds, {valid.get(mine, 0)} tickets")  # fmt: skip
        elif status not in FINAL:
            problems.append(f"order {mine} left {status}")
    if (sold := sum(valid.values())) > seats:
        problems.append(f"oversold: {sold} tickets for {seats} seats")
    if left := Hold.objects.filter(category_id=category_id, status="active").count():
        problems.append(f"{left} holds left active")
    return problems + [str(v) for v in selectors.invariant_violations(category_id=category_id)]


def _race(args: argparse.Namespace, env: dict[str, str], category_id: int) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", str(category_id), "--rate", str(args.rate)]
    command += ["--buyers", str(args.buyers), "--processes", str(args.processes)]
    command += ["--threads", str(args.threads), "--timeout", str(args.timeout)]
    command += ["--decline-every", str(args.decline_every)]
    commands = [[*command, "--index", str(index)] for index in range(args.processes)]
    start, reports = children.run(commands, env, ready_first=True)
    completed = [tuple(done) for report in reports for done in report["completed"]]
    latencies = sorted(took for took, _ in completed)
    cancelled: dict[str, int] = {}
    for report in reports:
        for reason, n in report["cancelled"].items():
            cancelled[reason] = cancelled.get(reason, 0) + n
    last = max((at for _, at in completed), default=start)
    placing = {
        outcome: sorted(ms for report in reports for ms in report["placing_ms"][outcome])
        for outcome in ("placed", "sold_out")
    }
    return {
        "placing": {
            outcome: (_percentile(ms, 0.50), _percentile(ms, 0.99))
            for outcome, ms in placing.items()
        },
        "completed": len(completed),
        "rate": len(completed) / max(last - start, 1e-9),
        "p50_ms": 1000 * _percentile(latencies, 0.50) if latencies else 0.0,
        "p99_ms": 1000 * _percentile(latencies, 0.99) if latencies else 0.0,
        "sold_out": children.total(reports, "sold_out"),
        "errors": children.total(reports, "errors"),
        "unfinished": children.total(reports, "unfinished"),
        "cancelled": cancelled,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--buyers", type=int, default=600)
    parser.add_argument("--seats", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="arrivals a second")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8, help="per process")
    parser.add_argument("--decline-every", type=int, default=10, help="0: no declined card")
    parser.add_argument("--timeout", type=float, default=120.0, help="s after the last arrival")
    parser.add_argument("--dry-run", action="store_true", help="40 buyers for 10 seats")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args)
        return
    if args.dry_run:
        args.buyers, args.seats, args.rate, args.timeout = 40, 10, 20.0, 60.0
    from cleave.testing.processes import stop_process_group

    provider = Provider()
    sagas: list[subprocess.Popen[bytes]] = []
    try:
        env = _environment(provider.base)
        _fresh_stores(env)
        sagas = _start_sagas(env)
        _setup_django(env)
        category_id = _seed(args.seats)
        print(
            f"bench/ticketing/purchase_race: {args.buyers} buyers for {args.seats} seats, "
            f"{args.rate:.0f} arrivals/s, {args.processes} processes x {args.threads} threads; "
            f"every {args.decline_every or 'no'}th card declined"
        )
        result = _race(args, env, category_id)
        problems = _problems(category_id, args.seats, provider.counts())
    finally:
        for process in [*sagas, provider.process]:
            stop_process_group(process, timeout=15)
    cancelled = ", ".join(f"{n} {reason}" for reason, n in sorted(result["cancelled"].items()))
    held, refused = result["placing"]["placed"], result["placing"]["sold_out"]
    print(
        f"  {result['completed']} purchases completed, {result['rate']:.1f}/s; order p50 "
        f"{result['p50_ms']:.0f} ms, p99 {result['p99_ms']:.0f} ms (arrival to tickets)\n"
        f"  placing (the hold), p50/p99: {held[0]:.1f}/{held[1]:.1f} ms granted, "
        f"{refused[0]:.1f}/{refused[1]:.1f} ms sold out (arrival to answer)\n"
        f"  {result['sold_out']} sold out at once; cancelled: {cancelled or 'none'}; "
        f"{result['unfinished']} unfinished, {result['errors']} errors\n"
        f"  invariants: {'OK' if not problems else 'BROKEN'}"
    )
    for problem in problems[:20]:
        print(f"    {problem}")
    sys.exit(1 if problems or result["errors"] or result["unfinished"] else 0)


if __name__ == "__main__":
    main()
