"""messaging's fixtures: a fake identity, and signed-in API clients."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client

from apps.messaging.tests.fakes import FakeIdentity
from cleave.auth.testing import Signer, token_signer
from cleave.contracts.registry import registry
from contracts.identity import IDENTITY


@pytest.fixture
def identity() -> Iterator[FakeIdentity]:
    fake = FakeIdentity()
    real = registry.providers.get(IDENTITY.context)
    registry.provide(IDENTITY, fake)
    yield fake
    if real is not None:
        registry.provide(IDENTITY, real)
    else:
        registry.withdraw(IDENTITY)


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


@dataclass
class Api:
    """A client acting as one user."""

    user_id: int
    token: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        return self.request(method, f"/api/v1/conversations{path}", body)

    def request(self, method: str, path: str, body: Any = None) -> Any:
        client = Client()
        kwargs: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}
        if body is not None:
            kwargs.update(data=body, content_type="application/json")
        return getattr(client, method)(path, **kwargs)

    def accept_invitations(self) -> list[int]:
        """Accept every open invitation (groups invite; nobody is put in one); their groups."""
        joined = []
        for invitation in self.request("get", "/api/v1/invitations").json()["items"]:
            accepted = self.request("post", f"/api/v1/invitations/{invitation['id']}/accept")
            assert accepted.status_code == 200, accepted.content
            joined.append(invitation["conversation_id"])
        return joined


@pytest.fixture
def as_user(identity: FakeIdentity, sign: Signer) -> Any:
    def make(user_id: int, name: str = "") -> Api:
        identity.add(user_id, name)
        return Api(user_id, sign(user_id=user_id))

    return make
