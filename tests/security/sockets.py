"""Sockets in process for the security tests: the ASGI application driven over ASGI messages,
with a stream store that can stop a resume at the moment a race needs."""

from __future__ import annotations

import itertools
import json
import threading
from typing import Any

from asgiref.testing import ApplicationCommunicator

from apps.identity.tests.factories import login, user_create
from cleave.realtime.streams import MemoryStreamStore, Replay

_devices = itertools.count(1)


class BarrierStore(MemoryStreamStore):
    """The embedded stream store, except that a resume stops just before it reads its history
    until the test lets it go on: the window in which the probe removed the member (after the
    gateway had checked membership, before it read and wrote the history)."""

    def __init__(self) -> None:
        super().__init__(history=1000, history_seconds=3600)
        self.reading = threading.Event()
        self.go_on = threading.Event()

    def _wait(self) -> None:
        self.reading.set()
        assert self.go_on.wait(10), "the test never let the resume go on"

    def since(self, stream: str, seq: int, epoch: str | None, *, cap: int) -> Replay:
        self._wait()
        return super().since(stream, seq, epoch, cap=cap)

    def since_many(
        self, positions: dict[str, tuple[int, str | None]], *, cap: int
    ) -> dict[str, Replay]:
        self._wait()
        return {s: MemoryStreamStore.since(self, s, *p, cap=cap) for s, p in positions.items()}


def signed_in(email: str) -> Any:
    user_create(email=email)
    return login(email, device_id=f"race-{next(_devices)}")


def call(signed: Any, method: str, path: str, body: Any = None) -> Any:
    response = signed.send(method, path, body)
    assert response.status_code < 300, (path, response.status_code, response.content)
    return response.json() if response.content else None


class WebsocketCommunicator(ApplicationCommunicator):
    """A WebSocket client speaking ASGI to the application in this process (Channels' own
    communicator needs daphne, which Cleave does not install)."""

    async def connect(self) -> None:
        await self.send_input({"type": "websocket.connect"})
        accepted = await self.receive_output(5)
        assert accepted["type"] == "websocket.accept", accepted

    async def send_to(self, *, text_data: str) -> None:
        await self.send_input({"type": "websocket.receive", "text": text_data})

    async def receive_from(self, timeout: float = 1) -> str:
        message = await self.receive_output(timeout)
        assert message["type"] == "websocket.send", message
        return str(message["text"])

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(1)


async def open_socket(access: str) -> WebsocketCommunicator:
    from cleave.asgi import application

    scope = {
        "type": "websocket",
        "path": "/ws/v1",
        "query_string": b"",
        "headers": [(b"authorization", f"Bearer {access}".encode()), (b"host", b"testserver")],
        "subprotocols": [],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    socket = WebsocketCommunicator(application, scope)
    await socket.connect()
    ready = json.loads(await socket.receive_from(timeout=5))
    assert ready["type"] == "ready", ready
    return socket


async def frames_until_ack(socket: WebsocketCommunicator, frame_id: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await socket.receive_from(timeout=5))
        frames.append(frame)
        if frame.get("type") == "ack" and frame.get("id") == frame_id:
            return frames


async def drain(socket: WebsocketCommunicator, seconds: float) -> list[dict[str, Any]]:
    frames = []
    while not await socket.receive_nothing(timeout=seconds):
        frames.append(json.loads(await socket.receive_from()))
    return frames


def texts_of(frames: list[dict[str, Any]]) -> list[str]:
    return [
        f["data"]["text"]
        for f in frames
        if f.get("type") == "event" and "text" in f.get("data", {})
    ]


def join(signed: Any, conversation_id: int) -> None:
    """Accept the invitation to `conversation_id` (groups invite; nobody is put in one)."""
    invitations = call(signed, "get", "/api/v1/invitations")["items"]
    (invitation,) = [i for i in invitations if i["conversation_id"] == conversation_id]
    call(signed, "post", f"/api/v1/invitations/{invitation['id']}/accept")
