"""A socket whose session cannot be checked (finding 3 of issue 16: fail closed) is refused
with "try again later" (1013), not with 4401, which apps read as "signed out"."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator

from cleave.auth import revocation
from cleave.errors import ServiceUnavailable
from tests.security.sockets import BarrierStore, signed_in

pytestmark = pytest.mark.django_db(transaction=True)


def _unreachable(session_ids: list[str]) -> set[str]:
    raise ServiceUnavailable()  # what a call to an unreachable owner of the sessions raises


def test_a_socket_whose_session_cannot_be_checked_is_told_to_try_again(
    store: BarrierStore,
) -> None:
    from cleave.asgi import application

    signed = signed_in("unsure@example.com")
    revocation.forget_checks()
    store.go_on.set()

    async def scenario() -> list[dict[str, Any]]:
        scope = {
            "type": "websocket",
            "path": "/ws/v1",
            "query_string": b"",
            "headers": [(b"authorization", f"Bearer {signed.access}".encode())],
            "subprotocols": [],
            "client": ("127.0.0.1", 50001),
            "server": ("testserver", 80),
        }
        socket = ApplicationCommunicator(application, scope)
        await socket.send_input({"type": "websocket.connect"})
        messages = [await socket.receive_output(5) for _ in range(3)]
        await socket.wait(1)
        return messages

    previous = revocation.swap_source(_unreachable)
    try:
        accepted, refused, closed = asyncio.run(scenario())
    finally:
        revocation.swap_source(previous)
    assert accepted["type"] == "websocket.accept", accepted
    assert json.loads(refused["text"])["error"]["code"] == "revocation_unknown", refused
    assert (closed["type"], closed["code"]) == ("websocket.close", 1013), closed
