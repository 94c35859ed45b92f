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
import json
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async

from tests.security.sockets import (
    BarrierStore,
    WebsocketCommunicator,
    call,
    drain,
    frames_until_ack,
    join,
    open_socket,
    signed_in,
    texts_of,
)

pytestmark = pytest.mark.django_db(transaction=True)

ITERATIONS = 8


def test_a_member_removed_while_resuming_never_hears_the_conversation_again(
    store: BarrierStore, settings: Any
) -> None:
    settings.CLEAVE_MESSAGING_SEND_RATE = "1000/10s"  # the owner sends 3 per iteration
    owner, member = signed_in("owner@example.com"), signed_in("member@example.com")

    async def iteration(number: int) -> None:
        group = await sync_to_async(call)(
            owner, "post", "/api/v1/conversations",
            {"kind": "group", "members": [member.user_id], "title": f"race {number}"},
        )  # fmt: skip
        await sync_to_async(join)(member, group["id"])
        stream, own = f"conv:{group['id']}", f"user:{member.user_id}"
        await sync_to_async(call)(
            owner, "post", f"/api/v1/conversations/{group['id']}/messages",
            {"text": f"before {number}", "client_msg_id": f"b{number}"},
        )  # fmt: skip
        socket = await open_socket(member.access)
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
            await sync_to_async(call)(
                owner, "delete", f"/api/v1/conversations/{group['id']}/members/{member.user_id}"
            )
            await sync_to_async(call)(
                owner, "post", f"/api/v1/conversations/{group['id']}/messages",
                {"text": f"after {number}", "client_msg_id": f"a{number}"},
            )  # fmt: skip
            store.go_on.set()
            frames = await frames_until_ack(socket, "r")
            await socket.send_to(text_data=json.dumps({"type": "typing", "stream": stream}))
            await sync_to_async(call)(
                owner, "post", f"/api/v1/conversations/{group['id']}/messages",
                {"text": f"later {number}", "client_msg_id": f"l{number}"},
            )  # fmt: skip
            frames += await drain(socket, 0.3)
        finally:
            store.go_on.set()
            await socket.disconnect()
        texts = texts_of(frames)
        assert f"after {number}" not in texts, frames
        assert f"later {number}" not in texts, frames
        refused = [f for f in frames if f.get("type") == "error"]
        assert [f["error"]["code"] for f in refused] == ["stream_not_joined"], frames

    async def scenario() -> None:
        for number in range(ITERATIONS):
            await iteration(number)

    asyncio.run(scenario())


def test_typing_on_a_broadcast_stream_is_refused_and_reaches_nobody(store: BarrierStore) -> None:
    typist, bystander = signed_in("typist@example.com"), signed_in("bystander@example.com")
    store.go_on.set()

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        typist_socket, bystander_socket = (
            await open_socket(typist.access),
            await open_socket(bystander.access),
        )
        try:
            await typist_socket.send_to(text_data=json.dumps({"type": "typing", "stream": "flags"}))
            await typist_socket.send_to(
                text_data=json.dumps({"type": "typing", "stream": f"user:{typist.user_id}"})
            )
            return await drain(typist_socket, 0.3), await drain(bystander_socket, 0.3)
        finally:
            await typist_socket.disconnect()
            await bystander_socket.disconnect()

    typist_frames, bystander_frames = asyncio.run(scenario())
    assert [f.get("type") for f in bystander_frames] == [], bystander_frames
    codes = [f["error"]["code"] for f in typist_frames if f.get("type") == "error"]
    assert codes == ["stream_not_joined", "stream_not_joined"], typist_frames


def test_a_resume_is_bounded_and_paid_for_before_any_work(store: BarrierStore) -> None:
    reader = signed_in("reader@example.com")
    store.go_on.set()

    async def resume(socket: WebsocketCommunicator, count: int, frame_id: str) -> dict[str, Any]:
        streams = {f"conv:{n}": 0 for n in range(1, count + 1)}
        frame = {"type": "resume", "id": frame_id, "streams": streams}
        await socket.send_to(text_data=json.dumps(frame))
        return json.loads(await socket.receive_from(timeout=10))

    async def scenario() -> list[dict[str, Any]]:
        socket = await open_socket(reader.access)
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

    owner, member = signed_in("a@example.com"), signed_in("b@example.com")
    groups = [
        call(owner, "post", "/api/v1/conversations",
              {"kind": "group", "members": [member.user_id], "title": f"g{n}"})["id"]
        for n in range(5)
    ]  # fmt: skip
    for group in groups:
        join(member, group)
    for group in groups:
        call(owner, "post", f"/api/v1/conversations/{group}/messages",
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
