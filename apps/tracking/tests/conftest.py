"""tracking's fixtures: API clients acting as a user on one device, a fake messaging, and
catch-up of the projections (as the events worker does after each commit)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.tracking.tests.fakes import FakeMessaging
from cleave.auth.testing import Signer, token_signer
from cleave.contracts.registry import registry
from cleave.eventstore.subscriptions import catchup
from contracts.messaging import MESSAGING


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


@pytest.fixture
def messaging() -> Iterator[FakeMessaging]:
    fake = FakeMessaging()
    real = registry.providers.get(MESSAGING.context)
    registry.provide(MESSAGING, fake)
    yield fake
    if real is not None:
        registry.provide(MESSAGING, real)
    else:
        registry.withdraw(MESSAGING)


@dataclass
class Phone:
    """A client acting as one user on one device (one session: one trip aggregate)."""

    user_id: int
    token: str
    batches: int = field(default=0)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(Client(), method)(f"/api/v1/tracking{path}", **kwargs)

    def consent(self, granted: bool = True) -> Any:
        answer = self.request("put", "/consent", {"granted": granted})
        assert answer.status_code == 200, answer.content
        return answer.json()

    def upload(
        self,
        points: list[dict[str, Any]],
        *,
        batch_id: str | None = None,
        actions: list[dict[str, Any]] | None = None,
        device_time: datetime | None = None,
    ) -> Any:
        self.batches += 1
        body = {
            "batch_id": batch_id or f"b{self.user_id}-{self.batches}",
            "device_time": (device_time or timezone.now()).isoformat(),
            "points": points,
            "actions": actions or [],
        }
        return self.request("post", "/batches", body)


def at(minutes_ago: float, lat: float, lon: float, **extra: Any) -> dict[str, Any]:
    """A point `minutes_ago` before now (server clock), as a phone sends it."""
    moment = timezone.now() - timedelta(minutes=minutes_ago)
    return {"t": moment.isoformat(), "lat": lat, "lon": lon, "accuracy": 5.0, **extra}


@pytest.fixture
def phone(sign: Signer) -> Any:
    def make(user_id: int, session_id: str | None = None) -> Phone:
        return Phone(user_id, sign(user_id=user_id, session_id=session_id))

    return make


@pytest.fixture
def project() -> Any:
    """Run every projection up to the head of the log (what the events worker does)."""
    return catchup
