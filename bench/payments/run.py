"""Payments benchmark: one purchase's payment cycle (create → confirm → capture, each with its
idempotency key, its provider call log and its events) per provider, against the same cycle
asked of the provider alone (no bookkeeping), in the same run.

Providers: the in-process test provider (embedded mode's) and the fake Stripe server over
loopback HTTP (a separate process, as tests start it). Sequential, one caller: latency per cycle
and cycles/s. Embedded mode (a fresh SQLite database) unless DATABASE_URL is set (real mode:
that PostgreSQL, migrated first).

Usage: python bench/payments/run.py [--quick] [--cycles 150]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]
os.chdir(ROOT)


def _setup() -> str:
    if not os.environ.get("DATABASE_URL"):
        os.environ.update(
            {
                "CLEAVE_MODE": "",
                "REDIS_URL": "",
                "CLEAVE_VAR_DIR": tempfile.mkdtemp(prefix="bench-pay-"),
            }
        )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--no-input", verbosity=0)
    from django.conf import settings

    return str(settings.CLEAVE_MODE)


def _measure(cycle: Callable[[int], None], count: int) -> dict[str, float]:
    for n in range(min(10, count)):  # warm-up: connections, caches
        cycle(-n - 1)
    took = []
    started = time.perf_counter()
    for n in range(count):
        begin = time.perf_counter()
        cycle(n)
        took.append((time.perf_counter() - begin) * 1000)
    elapsed = time.perf_counter() - started
    took.sort()
    return {
        "cycles_s": count / elapsed,
        "p50": statistics.median(took),
        "p99": took[min(len(took) - 1, int(len(took) * 0.99))],
    }


def _service_cycle(run: str) -> Callable[[int], None]:
    from apps.payments.services import intents

    def cycle(n: int) -> None:
        key = f"{run}-{n}"
        intent = intents.intent_create(
            amount=2500, currency="usd", reference=f"order:{key}", idempotency_key=key
        )
        intents.intent_confirm(
            intent_id=intent.pk, idempotency_key=f"{key}:c", payment_method="pm_card_visa"
        )
        intents.intent_capture(intent_id=intent.pk, idempotency_key=f"{key}:k")

    return cycle


def _provider_cycle(run: str) -> Callable[[int], None]:
    from apps.payments.services import gateway

    provider = gateway.current()

    def cycle(n: int) -> None:
        key = f"{run}-{n}"
        made = provider.intent_create(
            amount=2500,
            currency="usd",
            reference=key,
            payment_method=None,
            confirm=False,
            description="",
            key=key,
        )
        pid = made.provider_intent_id
        provider.intent_confirm(
            provider_intent_id=pid, payment_method="pm_card_visa", key=f"{key}:c"
        )
        provider.intent_capture(provider_intent_id=pid, amount=None, key=f"{key}:k")
        provider.pending_webhooks()  # the service delivers them; here they are dropped

    return cycle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 cycles per row")
    parser.add_argument("--cycles", type=int, default=150)
    parser.add_argument(
        "--dry-run", action="store_true", help="3 cycles per row: the start-up, checked"
    )
    args = parser.parse_args()
    count = 3 if args.dry_run else 50 if args.quick else args.cycles
    mode = _setup()
    from django.test import override_settings

    from apps.payments.services import gateway
    from cleave.testing.processes import free_port
    from cleave.testing.servers import running_server

    port = free_port()
    fake = [sys.executable, "-m", "apps.payments.testing.fake_stripe", "--port", str(port)]
    env = {"FAKE_STRIPE_SECRET_KEY": "sk_test_bench", "FAKE_STRIPE_WEBHOOK_SECRET": "whsec_bench"}
    rows = []
    with running_server(fake, port=port, env=env, ready_path="/_health") as base:
        providers = {
            "test (in process)": {"CLEAVE_PAYMENTS_PROVIDER": "test"},
            "stripe → fake server (HTTP)": {
                "CLEAVE_PAYMENTS_PROVIDER": "stripe",
                "CLEAVE_STRIPE_API_BASE": base,
                "CLEAVE_STRIPE_SECRET_KEY": "sk_test_bench",
                "CLEAVE_STRIPE_WEBHOOK_SECRET": "whsec_bench",
            },
        }
        for name, overrides in providers.items():
            with override_settings(**overrides):
                gateway._build.cache_clear()
                run = uuid.uuid4().hex[:8]
                alone = _measure(_provider_cycle(f"p{run}"), count)
                service = _measure(_service_cycle(f"s{run}"), count)
            rows.append((name, alone, service))
    print(f"payments cycle (create → confirm → capture), {count} sequential cycles, {mode} mode")
    print(
        "| provider | provider alone cycles/s | p50 ms | p99 ms "
        "| through the service cycles/s | p50 ms | p99 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, alone, service in rows:
        print(
            f"| {name} | {alone['cycles_s']:.0f} | {alone['p50']:.2f} | {alone['p99']:.2f} "
            f"| {service['cycles_s']:.0f} | {service['p50']:.2f} | {service['p99']:.2f} |"
        )


if __name__ == "__main__":
    main()
