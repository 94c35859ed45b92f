"""A no-op task: the plain-Celery baseline of bench/events (one task per broker message)."""

from __future__ import annotations

import redis
from celery import shared_task
from django.conf import settings

COUNTER_KEY = "bench:noop:done"


@shared_task(name="bench.noop", ignore_result=True)
def noop() -> None:
    # Counting in Redis is how the benchmark sees the last task finish (no result backend).
    url = settings.CONFIG.redis_url
    assert url, "the task benchmark runs against Redis"
    redis.Redis.from_url(url).incr(COUNTER_KEY)
