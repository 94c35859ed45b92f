"""ticketing's fixtures: API clients signed in as a buyer or a door scanner; a fake payments."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client

from apps.ticketing.services import hold_batches
from apps.ticketing.tests.fakes import FakePayments
from cleave.auth.testing import Signer, token_signer
from cleave.contracts.registry import registry
from contracts.payments import PAYMENTS


@pytest.fixture(autouse=True)
def _batch_connections_closed() -> Iterator[None]:
    """Holds written in batches go through connections of their own (services.hold_batches):
    closed after each test, so none outlives the test database."""
    yield
    hold_batches.close_connections()


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


@dataclass
class Api:
    """A client acting as one user (with their roles)."""

    user_id: int
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> Any:
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.token}", **headers}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(Client(), method)(f"/api/v1/ticketing{path}", **kwargs)


@pytest.fixture
def as_user(sign: Signer) -> Any:
    def make(user_id: int, *roles: str) -> Api:
        return Api(user_id, sign(user_id=user_id, roles=("user", *roles)))

    return make


@pytest.fixture
def payments() -> Iterator[FakePayments]:
    """payments replaced by an in-memory fake of its contract (the real one: tests/e2e)."""
    fake = FakePayments()
    real = registry.providers.get(PAYMENTS.context)
    registry.provide(PAYMENTS, fake)
    yield fake
    if real is not None:
        registry.provide(PAYMENTS, real)
    else:
        registry.withdraw(PAYMENTS)
