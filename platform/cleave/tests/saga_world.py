"""What the saga tests share: the effects service, the example saga's input, the clock moved
forward (deadlines and backoffs decided at `later(seconds)` instead of waiting for them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY

from cleave.sagas.models import SagaLogEntry
from cleave.testing.effects import EffectsLedger, effects_server


@pytest.fixture
def effects() -> Iterator[tuple[str, EffectsLedger]]:
    with effects_server() as served:
        yield served


@pytest.fixture(autouse=True)
def in_process() -> Iterator[None]:
    # The runner runs in this process on commit, on SQLite and on PostgreSQL alike (the Celery
    # path has its own test with a real worker: test_sagas_worker.py).
    with override_settings(CLEAVE_EVENTS_INPROCESS=True):
        yield


def later(seconds: float) -> datetime:
    return timezone.now() + timedelta(seconds=seconds)


def checkout_input(url: str, *, decline: str = "", order_id: int = 1) -> dict[str, Any]:
    return {"order_id": order_id, "effects_url": url, "decline": decline}


def timeline(saga_id: UUID) -> list[tuple[str, str]]:
    return list(SagaLogEntry.objects.filter(run_id=saga_id).values_list("kind", "step"))


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
