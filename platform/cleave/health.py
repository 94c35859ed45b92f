"""Liveness (`/healthz`) and readiness (`/readyz`): is the process up, can it do its job."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.core.cache import cache
from django.db import connections
from django.http import HttpRequest, JsonResponse

from cleave.observability import metrics

logger = logging.getLogger(__name__)

CHECK_TIMEOUT_SECONDS = 2.0


def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers: nothing else is checked, so a dependency outage never kills it."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency reachable → 200; otherwise 503 naming each failing part."""
    results = run_checks()
    failing = sorted(name for name, result in results.items() if result["status"] != "ok")
    body: dict[str, object] = {"status": "ok" if not failing else "unavailable", "checks": results}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if not failing else 503)


def run_checks() -> dict[str, dict[str, object]]:
    """Every readiness check's result, also recorded in the cleave_ready gauge."""
    results = {name: _run(check) for name, check in CHECKS.items()}
    for name, result in results.items():
        metrics.readiness.labels(name).set(1 if result["status"] == "ok" else 0)
    return results


# Checks run in threads of their own so each is cut off after CHECK_TIMEOUT_SECONDS: a database
# that is down makes the pool wait its full timeout (10 s), longer than a probe waits.
_checks = ThreadPoolExecutor(max_workers=8, thread_name_prefix="readyz")


def _run(check: Callable[[], None]) -> dict[str, object]:
    started = time.perf_counter()
    try:
        _checks.submit(_in_thread, check).result(timeout=CHECK_TIMEOUT_SECONDS)
    except FutureTimeout:
        logger.warning("readiness check %s timed out", check.__name__)
        return {"status": "error", "error": f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"}
    except Exception as exc:  # any failure means "not ready"; the reason goes to the body
        logger.warning("readiness check %s failed: %s", check.__name__, exc)
        return {"status": "error", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}


def _in_thread(check: Callable[[], None]) -> None:
    try:
        check()
    finally:
        connections.close_all()  # this thread's connections go back to the pool


def check_database() -> None:
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")


def check_cache() -> None:
    key = "cleave:readyz"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")


def check_realtime() -> None:
    """The Redis that carries socket fan-out and stream history (`cleave.realtime`): every
    process pushes to it. Embedded mode has none (memory, in the one process)."""
    url = settings.CONFIG.redis_url
    if not url:
        return
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CHECK_TIMEOUT_SECONDS, socket_timeout=CHECK_TIMEOUT_SECONDS
    )
    try:
        if client.ping() is not True:
            raise RuntimeError("Redis did not answer PONG")
    finally:
        client.close()


def check_broker() -> None:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return  # embedded mode: tasks run in-process, there is no broker to reach
    from cleave.celery import app

    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=int(CHECK_TIMEOUT_SECONDS))


def check_draining() -> None:
    """Not ready while a restart replaces this instance: its orchestrator creates the file at
    `CLEAVE_DRAIN_FILE` (a Kubernetes preStop hook, `manage.py split restart`) before it ends
    the process, so load balancers stop sending it work while it finishes what it has."""
    path = os.environ.get("CLEAVE_DRAIN_FILE")  # per instance, set where it is started
    if path and os.path.exists(path):
        raise RuntimeError("draining: this instance is being replaced")


CHECKS: dict[str, Callable[[], None]] = {
    "draining": check_draining,
    "database": check_database,
    "cache": check_cache,
    "realtime": check_realtime,
    "broker": check_broker,
}
