"""Fixtures of the security tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cleave.realtime import hub as hub_module
from tests.security.sockets import BarrierStore


@pytest.fixture
def store() -> Iterator[BarrierStore]:
    barrier = BarrierStore()
    barrier.on_append.append(
        lambda stream, seq, frame: hub_module.hub.submit("event", stream, seq, frame)
    )
    previous, hub_module._store = hub_module._store, barrier  # the store's seam
    # Each test runs its sockets in an event loop of its own: presence's asyncio Redis client
    # (real mode) and the admission batches follow the running loop by themselves.
    yield barrier
    hub_module._store = previous
