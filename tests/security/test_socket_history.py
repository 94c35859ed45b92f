"""Finding 1 of the adversarial probe (issue 16): retained history told more than REST.

A `resume` from seq 0 replayed the retained `message.sent` frames with their first text after
the message was edited or deleted, messages of deleted accounts included, and a member added
later read everything said before they joined. Now a replayed frame is resolved against the
message as it is at replay time, and history starts at the join, over REST and the socket.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

import pytest

from apps.messaging.services.messages import user_erase
from tests.security.sockets import (
    BarrierStore,
    WebsocketCommunicator,
    call,
    frames_until_ack,
    join,
    open_socket,
    signed_in,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _open_store(store: BarrierStore) -> None:
    """A fresh stream store and presence client per test, never stopping a resume here."""
    store.go_on.set()


def _replayed(access: str, stream: str) -> list[dict[str, Any]]:
    """Every frame a fresh socket gets when it resumes `stream` from seq 0."""

    async def scenario() -> list[dict[str, Any]]:
        socket: WebsocketCommunicator = await open_socket(access)
        try:
            resume = {"type": "resume", "id": "r", "streams": {stream: 0}}
            await socket.send_to(text_data=json.dumps(resume))
            return await frames_until_ack(socket, "r")
        finally:
            await socket.disconnect()

    return asyncio.run(scenario())


def _as_rest_shows(message: dict[str, Any]) -> dict[str, Any]:
    """A message with its times to the millisecond (REST's JSON encoder writes them so)."""
    shown = dict(message)
    for field in ("created_at", "edited_at"):
        if shown[field]:
            at = datetime.fromisoformat(shown[field])
            shown[field] = at.replace(microsecond=at.microsecond // 1000 * 1000)
    return shown


def _message_frames(frames: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [
        f["data"]
        for f in frames
        if f.get("stream") == stream and str(f.get("event", "")).startswith("message.")
    ]


def test_a_resume_shows_edited_and_deleted_messages_as_rest_does_now() -> None:
    author, reader = signed_in("author@example.com"), signed_in("reader@example.com")
    group = call(
        author, "post", "/api/v1/conversations",
        {"kind": "group", "members": [reader.user_id], "title": "probe"},
    )["id"]  # fmt: skip
    join(reader, group)
    messages = f"/api/v1/conversations/{group}/messages"
    secret = call(author, "post", messages, {"text": "secret", "client_msg_id": "s"})
    draft = call(author, "post", messages, {"text": "first draft", "client_msg_id": "d"})
    call(author, "patch", f"{messages}/{draft['id']}", {"text": "final words"})
    call(author, "delete", f"{messages}/{secret['id']}")

    replayed = _message_frames(_replayed(reader.access, f"conv:{group}"), f"conv:{group}")
    rest = {m["id"]: m for m in call(reader, "get", messages)["items"]}

    texts = json.dumps(replayed)
    assert "secret" not in texts, replayed
    assert "first draft" not in texts, replayed
    # Every replayed message frame is what REST shows of that message now.
    assert replayed, "the reader, a member from the start, gets the history"
    for data in replayed:
        assert _as_rest_shows(data) == _as_rest_shows(rest[data["id"]])


def test_a_member_added_later_reads_from_their_join_on_over_rest_and_the_socket() -> None:
    owner, early, late = (
        signed_in("owner@example.com"),
        signed_in("early@example.com"),
        signed_in("late@example.com"),
    )
    group = call(
        owner, "post", "/api/v1/conversations",
        {"kind": "group", "members": [early.user_id], "title": "before and after"},
    )["id"]  # fmt: skip
    join(early, group)
    messages = f"/api/v1/conversations/{group}/messages"
    call(owner, "post", messages, {"text": "said before", "client_msg_id": "b"})
    call(owner, "post", f"/api/v1/conversations/{group}/read", {"seq": 1})
    call(owner, "post", f"/api/v1/conversations/{group}/members", {"user_id": late.user_id})
    join(late, group)
    call(owner, "post", messages, {"text": "said after", "client_msg_id": "a"})

    frames = _replayed(late.access, f"conv:{group}")
    stream_frames = [
        f for f in frames if f.get("type") == "event" and f.get("stream") == f"conv:{group}"
    ]
    assert [m["text"] for m in _message_frames(frames, f"conv:{group}")] == ["said after"]
    # Membership and read marks from before the join are not shown either; their own is.
    events = [(f["event"], f["data"].get("user_id")) for f in stream_frames]
    assert ("messages.read", owner.user_id) not in events, events
    assert ("member.added", late.user_id) in events, events
    assert [m["text"] for m in call(late, "get", messages)["items"]] == ["said after"]
    listed = {c["id"]: c for c in call(late, "get", "/api/v1/conversations")["items"]}
    assert listed[group]["unread"] == 1  # only what came after the join
    # The early member still reads everything.
    early_texts = [m["text"] for m in call(early, "get", messages)["items"]]
    assert early_texts == ["said before", "said after"]


def test_messages_of_a_deleted_account_replay_exactly_as_rest_shows_them() -> None:
    leaver, reader = signed_in("leaver@example.com"), signed_in("stays@example.com")
    direct = call(
        leaver, "post", "/api/v1/conversations", {"kind": "direct", "members": [reader.user_id]}
    )["id"]
    messages = f"/api/v1/conversations/{direct}/messages"
    call(leaver, "post", messages, {"text": "my private words", "client_msg_id": "p"})
    response = leaver.send("delete", "/api/v1/me", {"password": "correct horse battery staple"})
    assert response.status_code == 204, response.content
    # What messaging's subscriber to UserDeleted does: done already in embedded mode (events
    # are applied after commit), a worker's job in real mode, where none runs here.
    user_erase(user_id=leaver.user_id)

    replayed = _message_frames(_replayed(reader.access, f"conv:{direct}"), f"conv:{direct}")
    rest = {m["id"]: m for m in call(reader, "get", messages)["items"]}
    assert "my private words" not in json.dumps(replayed), replayed
    assert replayed
    for data in replayed:
        assert _as_rest_shows(data) == _as_rest_shows(rest[data["id"]])
        assert data["deleted"] is True
