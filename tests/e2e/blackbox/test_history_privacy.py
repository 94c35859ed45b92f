"""What a socket replays never tells more than REST, and a removed member hears nothing more
(findings 1 and 2 of the adversarial probe, issue 16), over HTTP and WebSockets only."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import ws
from client import Api, User, expect
from websockets.sync.client import ClientConnection

REMOVALS = 3


def _group(api: Api, owner: User, members: list[User], title: str) -> int:
    """A group of `owner` and `members`, who are invited and accept."""
    body = {"kind": "group", "members": [m.id for m in members], "title": title}
    conversation = int(expect(api.as_(owner).post("/api/v1/conversations", body), 201)["id"])
    for member in members:
        _accept(api, member, conversation)
    return conversation


def _send(api: Api, sender: User, conversation: int, text: str) -> dict[str, Any]:
    """Send as a patient app does: a 429 (the per-user send limit, shared by the whole suite's
    senders) is retried once after its Retry-After."""
    path = f"/api/v1/conversations/{conversation}/messages"
    body = {"text": text, "client_msg_id": uuid.uuid4().hex}
    answer = api.as_(sender).post(path, body)
    if answer.status_code == 429:
        time.sleep(float(answer.headers.get("Retry-After", "1")))
        answer = api.as_(sender).post(path, body)
    return dict(expect(answer, 201))


def _accept(api: Api, user: User, conversation: int) -> None:
    invitations = expect(api.as_(user).get("/api/v1/invitations"), 200)["items"]
    (invitation,) = [i for i in invitations if i["conversation_id"] == conversation]
    expect(api.as_(user).post(f"/api/v1/invitations/{invitation['id']}/accept"), 200)


def _resume(conn: ClientConnection, streams: dict[str, int], frame_id: str) -> list[ws.Frame]:
    ws.send(conn, {"type": "resume", "id": frame_id, "streams": streams})
    return ws.collect(conn, lambda f: f["type"] == "ack" and f.get("id") == frame_id)


def _messages(frames: list[ws.Frame], stream: str) -> list[dict[str, Any]]:
    return [
        f["data"]
        for f in frames
        if f["type"] == "event"
        and f.get("stream") == stream
        and str(f.get("event")).startswith("message.")
    ]


def test_a_resume_replays_messages_as_they_are_now_and_only_since_the_join(
    api: Api, alice: User, bob: User, erin: User, websocket_url: str
) -> None:
    as_alice = api.as_(alice)
    conversation = _group(api, alice, [bob], "history privacy")
    stream, path = f"conv:{conversation}", f"/api/v1/conversations/{conversation}/messages"
    secret = _send(api, alice, conversation, "secret words")
    draft = _send(api, alice, conversation, "first draft")
    expect(as_alice.patch(f"{path}/{draft['id']}", {"text": "final words"}), 200)
    expect(as_alice.request("DELETE", f"{path}/{secret['id']}"), 204)
    members = f"/api/v1/conversations/{conversation}/members"
    expect(as_alice.post(members, {"user_id": erin.id}), 201)
    _accept(api, erin, conversation)

    with ws.socket(websocket_url, bob.access) as bob_socket:
        bob_sees = _messages(_resume(bob_socket, {stream: 0}, "bob"), stream)
    with ws.socket(websocket_url, erin.access) as carol_socket:
        carol_frames = _resume(carol_socket, {stream: 0}, "erin")

    replayed = json.dumps(bob_sees)
    assert "secret words" not in replayed, bob_sees
    assert "first draft" not in replayed, bob_sees
    now = {m["id"]: m for m in expect(api.as_(bob).get(path), 200)["items"]}
    assert {m["id"]: (m["text"], m["deleted"]) for m in bob_sees} == {
        i: (m["text"], m["deleted"]) for i, m in now.items()
    }
    # Carol joined after all of it: nothing of it over the socket, nor over REST.
    assert _messages(carol_frames, stream) == [], carol_frames
    assert "secret words" not in json.dumps(carol_frames)
    assert expect(api.as_(erin).get(path), 200)["items"] == []


def _removed_while_resuming(
    api: Api, owner: User, member: User, websocket_url: str, attempt: int
) -> tuple[str, list[ws.Frame]]:
    """The member resumes while the owner removes them, then the owner talks on: every frame
    the member's socket got, to the end of a quiet half second."""
    as_owner = api.as_(owner)
    conversation = _group(api, owner, [member], f"removal {attempt}")
    stream = f"conv:{conversation}"
    left = ws.event("stream.left", f"user:{member.id}")

    def left_this(frame: ws.Frame) -> bool:
        return left(frame) and frame["data"] == {"stream": stream}

    with ws.socket(websocket_url, member.access) as conn:
        streams = {stream: 0, f"user:{member.id}": 0}
        ws.send(conn, {"type": "resume", "id": "r", "streams": streams})
        expect(
            as_owner.request("DELETE", f"/api/v1/conversations/{conversation}/members/{member.id}"),
            204,
        )
        _send(api, owner, conversation, f"after {attempt}")
        frames = ws.collect(conn, lambda f: f["type"] == "ack" and f.get("id") == "r")
        if not any(left_this(f) for f in frames):
            frames += ws.collect(conn, left_this)
        ws.send(conn, {"type": "typing", "id": "t", "stream": stream})
        frames += ws.collect(conn, lambda f: f["type"] == "error" and f.get("id") == "t")
        _send(api, owner, conversation, f"later {attempt}")
        frames += ws.drain(conn, seconds=0.5)
    return stream, frames


def test_a_member_removed_while_resuming_hears_nothing_more(
    api: Api, alice: User, erin: User, websocket_url: str
) -> None:
    for attempt in range(REMOVALS):
        stream, frames = _removed_while_resuming(api, alice, erin, websocket_url, attempt)
        texts = [m["text"] for m in _messages(frames, stream)]
        assert f"after {attempt}" not in texts, frames
        assert f"later {attempt}" not in texts, frames
        refused = [f["error"]["code"] for f in frames if f["type"] == "error"]
        assert refused == ["stream_not_joined"], frames
