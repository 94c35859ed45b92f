"""A no-op task (the plain-Celery baseline of bench/events: one task per broker message), and one
that tells which PostgreSQL backend served it (platform/cleave/tests/test_worker_connections.py)."""

from __future__ import annotations

import redis
from celery import shared_task
from django.conf import settings
from django.db import connection

COUNTER_KEY = "bench:noop:done"


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    # Counting in Redis is how the benchmark sees the last task finish (no result backend).
    url = settings.CONFIG.redis_url
    assert url, "the task benchmark runs against Redis"
    redis.Redis.from_url(url).incr(COUNTER_KEY)


@shared_task(name="cleave.tests.backend_pid", ignore_result=True)
def backend_pid(key: str) -> None:
    """Push the PostgreSQL backend that served this task onto the Redis list `key`."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    url = settings.CONFIG.redis_url
    assert url, "a real-mode test's task"
    redis.Redis.from_url(url).rpush(key, pid)
