"""The `worker` process's database connections (real mode: PostgreSQL, Redis, a prefork worker).

Celery's Django fixup closed the psycopg pool after every task in a prefork child, so each task
connected anew (a PostgreSQL backend forked each time); settings.CELERY_DB_REUSE_MAX and
cleave.celery hand connections back to the pool instead. A child keeps its backend."""

from __future__ import annotations

import uuid

import pytest
import redis
from django.conf import settings

from cleave.testing.processes import wait_for
from cleave.testing.workers import celery_worker
from cleave.tests.example.shipping.tasks import backend_pid

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs a worker"),
]
QUEUE = "cleave-tests-connections"
TASKS = 24


def test_a_prefork_worker_keeps_its_database_connections_from_task_to_task() -> None:
    test_database = settings.DATABASES["default"]["NAME"]
    url = settings.CONFIG.database
    env = {
        "DATABASE_URL": f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{test_database}",
        "DJANGO_SETTINGS_MODULE": "cleave.tests.settings",
    }
    assert settings.CONFIG.redis_url
    served = redis.Redis.from_url(settings.CONFIG.redis_url)
    key = f"cleave:tests:backends:{uuid.uuid4()}"
    try:
        with celery_worker(queues=[QUEUE], env=env, concurrency=2):
            for _ in range(TASKS):
                backend_pid.apply_async(args=(key,), queue=QUEUE)
            wait_for(lambda: served.llen(key) == TASKS, timeout=60)
        backends = {int(pid) for pid in served.lrange(key, 0, -1)}
    finally:
        served.delete(key)
    # Two children, each with its pool: the pool's first connections, and one more when a task
    # asked while they were being opened; one per task (24 or more) before.
    per_child = settings.DATABASES["default"]["OPTIONS"]["pool"]["min_size"] + 1
    assert len(backends) <= 2 * per_child, backends
