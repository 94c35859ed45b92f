"""Sagas in real mode: PostgreSQL, the Redis broker and a real Celery worker process on the
deployment's task queue, as a service's `worker` runs them in split mode."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from django.conf import settings
from django.db import connection, transaction

from cleave.sagas import saga_get, saga_signal, saga_start
from cleave.sagas.dispatch import saga_queue
from cleave.sagas.models import SagaRun
from cleave.sagas.sweeper import sweep
from cleave.testing.effects import EffectsLedger
from cleave.testing.processes import wait_for
from cleave.testing.workers import celery_worker
from cleave.tests.example.orders.sagas import CHECKOUT
from cleave.tests.saga_world import checkout_input, effects

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis and a worker"),
]
__all__ = ["effects"]

Served = tuple[str, EffectsLedger]


@pytest.fixture(scope="module")
def worker(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    from cleave.celery import app

    app.control.purge()  # messages left by an earlier, interrupted run
    test_database = settings.DATABASES["default"]["NAME"]
    url = settings.CONFIG.database
    database_url = f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{test_database}"
    env = {"DATABASE_URL": database_url, "DJANGO_SETTINGS_MODULE": "cleave.tests.settings"}
    with celery_worker(queues=[saga_queue()], env=env):
        yield


def _state(saga_id: UUID, state: str) -> bool:
    return saga_get(saga_id).state == state


def test_a_saga_runs_on_the_task_queue_in_a_worker_and_waits_for_its_signal(
    worker: None, effects: Served
) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    assert saga_get(saga_id).state == "running"  # handed to the worker, not run here
    wait_for(lambda: _state(saga_id, "waiting"), timeout=30)
    saga_signal(saga_id, "payment_confirmed", {"ok": True})
    wait_for(lambda: _state(saga_id, "completed"), timeout=30)
    assert sorted(ledger.applied.values()) == [1, 1, 1]


def test_a_declined_saga_is_compensated_by_the_worker(worker: None, effects: Served) -> None:
    url, ledger = effects
    with transaction.atomic():
        saga_id = saga_start(CHECKOUT, input=checkout_input(url, decline="ship"))
        saga_signal(saga_id, "payment_confirmed", {})
    wait_for(lambda: _state(saga_id, "compensated"), timeout=30)
    assert ledger.undone == {f"{saga_id}:charge": 1, f"{saga_id}:reserve": 1}


def test_the_sweeper_hands_off_a_saga_whose_hand_off_was_lost(
    worker: None, effects: Served
) -> None:
    url, ledger = effects
    with transaction.atomic():
        saga_id = saga_start(CHECKOUT, input=checkout_input(url))
        connection.run_on_commit.clear()  # the process died between commit and hand-off
    assert sweep() == 0  # not due yet: the hand-off may still be on its way
    SagaRun.objects.filter(id=saga_id).update(due_at=SagaRun.objects.get(id=saga_id).created_at)
    assert sweep() == 1
    wait_for(lambda: _state(saga_id, "waiting"), timeout=30)
    assert ledger.applied == {f"{saga_id}:reserve": 1, f"{saga_id}:charge": 1}
