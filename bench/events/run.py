"""Event-bus benchmark (real mode): a burst of events through outbox → Redis → one worker.

Measures, in one run against the same Redis broker and the same single worker process:
  1. plain Celery: N no-op tasks, one per broker message (the baseline);
  2. Cleave events: N events published (each in its own transaction, or K per transaction),
     relayed in batches and applied by the example `shipping` subscriber with its inbox row;
  3. the overhead of an in-process contract call versus calling the implementation directly.

Usage (needs PostgreSQL and Redis, as in real mode):
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/cleave REDIS_URL=redis://127.0.0.1:6379/2 \\
  SECRET_KEY=... python bench/events/run.py [--events 10000] [--per-transaction 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.tests.settings"  # with the example contexts
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("DEBUG", "false")
BENCH_DB = "cleave_bench"


def _bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        sys.exit("bench/events needs real mode: set DATABASE_URL (PostgreSQL) and REDIS_URL")
    return url.rsplit("/", 1)[0] + "/" + BENCH_DB


def _prepare() -> str:
    import psycopg

    url = _bench_database_url()
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def bench_plain_celery(count: int) -> float:
    import redis
    from django.conf import settings

    from cleave.testing.processes import wait_for
    from cleave.tests.example.shipping.tasks import COUNTER_KEY, noop

    counter = redis.Redis.from_url(settings.CONFIG.redis_url)
    counter.delete(COUNTER_KEY)
    started = time.perf_counter()
    for _ in range(count):
        noop.apply_async(queue="bench")
    sent = time.perf_counter()
    wait_for(lambda: int(counter.get(COUNTER_KEY) or 0) >= count, timeout=300, interval=0.01)
    elapsed = time.perf_counter() - started
    print(f"  plain Celery: sent {count} in {sent - started:.2f}s, all ran after {elapsed:.2f}s")
    return count / elapsed


def bench_events(
    count: int, per_transaction: int, *, batch_subscriber: bool
) -> tuple[float, float, float, float]:
    """Publish `count` events and wait for their effects: `OrderPlaced` goes to a per-event
    subscriber (one INSERT each), `OrderPaid` to a batch subscriber (one bulk INSERT a batch)."""
    from django.db import transaction

    from cleave.events import publish_many
    from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent
    from cleave.testing.processes import wait_for
    from cleave.tests.example.contracts import OrderPaid, OrderPlaced
    from cleave.tests.example.shipping.models import Invoice, Shipment

    for model in (Shipment, Invoice, OutboxEvent, InboxEntry, FailedDelivery):
        model.objects.all().delete()
    effects = Invoice if batch_subscriber else Shipment

    def event(n: int) -> OrderPaid | OrderPlaced:
        if batch_subscriber:
            return OrderPaid(aggregate_id=str(n), order_id=n, total=n)
        return OrderPlaced(aggregate_id=str(n), order_id=n, total=n, note="")

    started = time.perf_counter()
    for first in range(0, count, per_transaction):
        with transaction.atomic():
            publish_many([event(n) for n in range(first, min(first + per_transaction, count))])
    published = time.perf_counter()
    wait_for(lambda: effects.objects.count() >= count, timeout=600, interval=0.02)
    done = time.perf_counter()
    latencies = sorted(
        (applied - placed).total_seconds() * 1000
        for placed, applied in effects.objects.values_list("placed_at", "applied_at")
    )
    rate = count / (done - started)
    kind = "batch" if batch_subscriber else "per-event"
    print(
        f"  events ({kind} subscriber, {per_transaction}/tx): "
        f"published {count} in {published - started:.2f}s "
        f"({count / (published - started):,.0f}/s), all applied after {done - started:.2f}s"
    )
    p50 = statistics.median(latencies)
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return rate, p50, p99, count / (published - started)


def bench_contract_call(rounds: int = 200_000) -> tuple[float, float]:
    from bench.events.echo_contract import ECHO, Args, EchoProvider, EchoService
    from cleave.contracts.registry import ContractRegistry

    registry = ContractRegistry()
    provider = EchoProvider()
    registry.provide(ECHO, provider)
    client = registry.client(ECHO, EchoService)
    argument = Args(user_id=1, name="ada", score=0.5, active=True, tags=["a", "b"])
    direct = min(timeit.repeat(lambda: provider.echo(argument), number=rounds, repeat=3)) / rounds
    via = min(timeit.repeat(lambda: client.echo(argument), number=rounds, repeat=3)) / rounds
    return direct * 1e9, via * 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--per-transaction", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    url = _prepare()

    from cleave.celery import app
    from cleave.testing.workers import celery_worker

    app.control.purge()
    env = {"DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "cleave.tests.settings"}
    print(f"one worker process (solo pool) on Redis; {args.events} tasks/events per run")
    with celery_worker(queues=["events.shipping", "bench"], env=env):
        if args.dry_run:  # the database migrated and the worker ready: enough
            print("dry run: database migrated, worker ready")
            return
        plain = bench_plain_celery(args.events)
        runs = [
            (label, k, *bench_events(args.events, k, batch_subscriber=batch))
            for label, batch in (("per-event subscriber", False), ("batch subscriber", True))
            for k in args.per_transaction
        ]
    direct_ns, via_ns = bench_contract_call()

    print("\n| measurement | rate (/s) | vs plain Celery | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    print(f"| plain Celery no-op tasks, one per message | {plain:,.0f} | 1.0× | | |")
    for label, per_tx, rate, p50, p99, publish_rate in runs:
        print(
            f"| events, {label}, {per_tx} per transaction (published at {publish_rate:,.0f}/s) "
            f"| {rate:,.0f} | {rate / plain:.1f}× | {p50:.1f} | {p99:.1f} |"
        )
    print(
        f"\ncontract call, 5-field argument and result: direct {direct_ns:,.0f} ns, "
        f"in-process client {via_ns:,.0f} ns, overhead {via_ns - direct_ns:,.0f} ns per call"
    )


if __name__ == "__main__":
    main()
