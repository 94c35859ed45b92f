"""Findings 2, 8 and 9 of the adversarial probe (issue 16): what a socket may still hear.

2. A removed member's socket stayed subscribed when `stream.left` raced a `resume`: replayed
   frames were written straight out, and the live `stream.left` was then dropped as a duplicate.
   Here the race is driven deterministically: a stream store that stops every resume between
   reading the history and answering, while the test removes the member and sends again.
8. `typing` on the broadcast `flags` stream reached every connected socket.
9. One resume could name thousands of streams, a membership query each.

In process (the ASGI application, Channels' communicator, the real services and database), so
the barrier can sit inside the store; it runs in embedded and real mode alike.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from asgiref.testing import ApplicationCommunicator

from apps.identity.tests.factories import login, user_create
from cleave.realtime import hub as hub_module
from cleave.realtime.streams import MemoryStreamStore, Replay

pytestmark = pytest.mark.django_db(transaction=True)

ITERATIONS = 8
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


@pytest.fixture
def store() -> Iterator[BarrierStore]:
    barrier = BarrierStore()
    barrier.on_append.append(
        lambda stream, seq, frame: hub_module.hub.submit("event", stream, seq, frame)
    )
    previous, hub_module._store = hub_module._store, barrier  # noqa: SLF001 - the store's seam
    yield barrier
    hub_module._store = previous  # noqa: SLF001


def _signed_in(email: str) -> Any:
    user_create(email=email)
    return login(email, device_id=f"race-{next(_devices)}")


def _call(signed: Any, method: str, path: str, body: Any = None) -> Any:
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


async def _socket(access: str) -> WebsocketCommunicator:
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


async def _frames_until_ack(socket: WebsocketCommunicator, frame_id: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = json.loads(await socket.receive_from(timeout=5))
        frames.append(frame)
        if frame.get("type") == "ack" and frame.get("id") == frame_id:
            return frames


async def _drain(socket: WebsocketCommunicator, seconds: float) -> list[dict[str, Any]]:
    frames = []
    while not await socket.receive_nothing(timeout=seconds):
        frames.append(json.loads(await socket.receive_from()))
    return frames


def _texts(frames: list[dict[str, Any]]) -> list[str]:
    return [
        f["data"]["text"]
        for f in frames
        if f.get("type") == "event" and "text" in f.get("data", {})
    ]


def test_a_member_removed_while_resuming_never_hears_the_conversation_again(
    store: BarrierStore,
) -> None:
    owner, member = _signed_in("owner@example.com"), _signed_in("member@example.com")

    async def iteration(number: int) -> None:
        group = await sync_to_async(_call)(
            owner, "post", "/api/v1/conversations",
            {"kind": "group", "members": [member.user_id], "title": f"race {number}"},
        )  # fmt: skip
        stream, own = f"conv:{group['id']}", f"user:{member.user_id}"
        await sync_to_async(_call)(
            owner, "post", f"/api/v1/conversations/{group['id']}/messages",
            {"text": f"before {number}", "client_msg_id": f"b{number}"},
        )  # fmt: skip
        socket = await _socket(member.access)
        try:
            store.reading.clear()
            store.go_on.clear()
            # Half the iterations resume the user's own stream too: its replayed `stream.left`
            # is the frame the old gateway wrote out without following.
            streams = {stream: 0, own: 0} if number % 2 else {stream: 0}
            await socket.send_to(
                text_data=json.dumps({"type": "resume", "id": "r", "streams": streams})
            )
            assert await asyncio.to_thread(store.reading.wait, 5)
            # Membership is checked, the history not read yet: now the member is removed and
            # the owner talks on.
            await sync_to_async(_call)(
                owner, "delete", f"/api/v1/conversations/{group['id']}/members/{member.user_id}"
            )
            await sync_to_async(_call)(
                owner, "post", f"/api/v1/conversations/{group['id']}/messages",
                {"text": f"after {number}", "client_msg_id": f"a{number}"},
            )  # fmt: skip
            store.go_on.set()
            frames = await _frames_until_ack(socket, "r")
            await socket.send_to(text_data=json.dumps({"type": "typing", "stream": stream}))
            await sync_to_async(_call)(
                owner, "post", f"/api/v1/conversations/{group['id']}/messages",
                {"text": f"later {number}", "client_msg_id": f"l{number}"},
            )  # fmt: skip
            frames += await _drain(socket, 0.3)
        finally:
            store.go_on.set()
            await socket.disconnect()
        texts = _texts(frames)
        assert f"after {number}" not in texts, frames
        assert f"later {number}" not in texts, frames
        refused = [f for f in frames if f.get("type") == "error"]
        assert [f["error"]["code"] for f in refused] == ["stream_not_joined"], frames

    async def scenario() -> None:
        for number in range(ITERATIONS):
            await iteration(number)

    asyncio.run(scenario())


def test_typing_on_a_broadcast_stream_is_refused_and_reaches_nobody(store: BarrierStore) -> None:
    typist, bystander = _signed_in("typist@example.com"), _signed_in("bystander@example.com")
    store.go_on.set()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        typist_socket, bystander_socket = (
            await _socket(typist.access),
            await _socket(bystander.access),
        )
        try:
            await typist_socket.send_to(text_data=json.dumps({"type": "typing", "stream": "flags"}))
            await typist_socket.send_to(
                text_data=json.dumps({"type": "typing", "stream": f"user:{typist.user_id}"})
            )
            return await _drain(typist_socket, 0.3), await _drain(bystander_socket, 0.3)
        finally:
            await typist_socket.disconnect()
            await bystander_socket.disconnect()

    typist_frames, bystander_frames = asyncio.run(scenario())
    assert [f.get("type") for f in bystander_frames] == [], bystander_frames
    codes = [f["error"]["code"] for f in typist_frames if f.get("type") == "error"]
    assert codes == ["stream_not_joined", "stream_not_joined"], typist_frames


def test_a_resume_is_bounded_and_paid_for_before_any_work(store: BarrierStore) -> None:
    reader = _signed_in("reader@example.com")
    store.go_on.set()

    async def resume(socket: WebsocketCommunicator, count: int, frame_id: str) -> dict[str, Any]:
        streams = {f"conv:{n}": 0 for n in range(1, count + 1)}
        frame = {"type": "resume", "id": frame_id, "streams": streams}
        await socket.send_to(text_data=json.dumps(frame))
        return json.loads(await socket.receive_from(timeout=10))

    async def scenario() -> list[dict[str, Any]]:
        socket = await _socket(reader.access)
        try:
            # All within one second of the socket's rate window.
            await asyncio.sleep(1.02 - time.monotonic() % 1)
            return [
                await resume(socket, 3000, "huge"),  # refused before any work: 1 frame
                await resume(socket, 100, "hundred"),  # 1 frame + 9 for its streams
                await resume(socket, 100, "again"),  # 10 more: past the 20 a second
            ]
        finally:
            await socket.disconnect()

    too_many, hundred, again = asyncio.run(scenario())
    assert too_many["type"] == "error", too_many
    assert too_many["error"]["code"] == "too_many_streams"
    assert hundred["type"] == "ack", hundred
    assert {entry["reason"] for entry in hundred["streams"].values()} == {"forbidden"}
    assert again["type"] == "error", again
    assert again["error"]["code"] == "rate_limited"


def test_membership_and_history_of_a_hundred_streams_take_three_queries(
    django_assert_max_num_queries: Any,
) -> None:
    """What a resume asks the database: which streams the user may read, once per family, and
    the retained history resolved against the messages' current state, once."""
    from cleave.auth.principal import Principal
    from cleave.realtime import registry

    owner, member = _signed_in("a@example.com"), _signed_in("b@example.com")
    groups = [
        _call(owner, "post", "/api/v1/conversations",
              {"kind": "group", "members": [member.user_id], "title": f"g{n}"})["id"]
        for n in range(5)
    ]  # fmt: skip
    for group in groups:
        _call(owner, "post", f"/api/v1/conversations/{group}/messages",
              {"text": "hello", "client_msg_id": f"h{group}"})  # fmt: skip
    streams = [f"conv:{n}" for n in range(1, 96)] + [f"conv:{g}" for g in groups]
    principal = Principal(
        user_id=member.user_id, session_id=member.session_id, roles=frozenset(), expires_at=0
    )
    with django_assert_max_num_queries(3):
        readable = registry.readable(principal, streams)
        frame = json.dumps({"type": "event", "event": "message.sent", "data": {"id": 1}})
        seen = registry.replay(principal, {stream: [(1, frame)] for stream in readable})
    assert readable == {f"conv:{g}" for g in groups}
    assert set(seen) == readable
