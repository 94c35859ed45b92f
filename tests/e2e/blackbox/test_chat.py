"""Two users chat over real sockets; a phone that drops off resumes without a gap or a copy.

Only alice sends here: bob's inbox fills, alice's stays test_notifications.py's own.
"""

from __future__ import annotations

import ws
from client import Api, User, error_of, expect

MISSED = 5


def test_two_users_chat_and_a_reconnecting_phone_gets_exactly_what_it_missed(
    api: Api, alice: User, bob: User, websocket_url: str
) -> None:
    as_alice = api.as_(alice)
    # Alice signs her socket in with a header, bob with an auth frame (both are documented).
    with (
        ws.socket(websocket_url, alice.access, auth="header") as alice_socket,
        ws.socket(websocket_url, bob.access, auth="frame") as bob_socket,
    ):
        created = expect(
            as_alice.post("/api/v1/conversations", {"kind": "direct", "members": [bob.id]}), 201
        )
        assert sorted(m["user_id"] for m in created["members"]) == sorted([alice.id, bob.id])
        conversation, stream = created["id"], f"conv:{created['id']}"
        # Both sockets follow the new conversation at once.
        for conn, user in ((alice_socket, alice), (bob_socket, bob)):
            joined = ws.until(conn, ws.event("stream.joined", f"user:{user.id}"))
            assert joined["data"] == {"stream": stream}
        again = as_alice.post("/api/v1/conversations", {"kind": "direct", "members": [bob.id]})
        assert expect(again, 200)["id"] == conversation  # a direct one exists once

        # A message over the socket: acked to alice with its seq, pushed to bob with the stream's.
        ws.send(
            alice_socket,
            {
                "type": "message.send",
                "id": 7,
                "conversation_id": conversation,
                "text": "hi bob",
                "client_msg_id": "ws-1",
            },
        )
        ack = ws.until(alice_socket, lambda f: f["type"] == "ack" and f.get("id") == 7)
        assert (ack["created"], ack["message"]["text"]) == (True, "hi bob")
        first = ws.until(bob_socket, ws.event("message.sent", stream))
        assert (first["data"]["text"], first["data"]["sender_id"]) == ("hi bob", alice.id)
        assert first["data"]["seq"] == ack["message"]["seq"]

        # A message over REST reaches bob's socket the same way, next in the stream.
        sent = as_alice.send(conversation, "and over REST")
        second = ws.until(bob_socket, ws.event("message.sent", stream))
        assert (second["data"]["text"], second["data"]["id"]) == ("and over REST", sent["id"])
        assert second["seq"] > first["seq"]
        assert second["epoch"] == first["epoch"]
        last_seen = {"seq": second["seq"], "epoch": second["epoch"]}

    # Bob is in a tunnel; alice carries on.
    missed = [as_alice.send(conversation, f"missed {n}") for n in range(MISSED)]

    with ws.socket(websocket_url, bob.access) as bob_socket:
        ws.send(bob_socket, {"type": "resume", "id": "r1", "streams": {stream: last_seen}})
        frames = ws.collect(bob_socket, lambda f: f["type"] == "ack" and f.get("id") == "r1")
        replayed = [f for f in frames if f.get("stream") == stream and f["type"] == "event"]
        assert [f["data"]["text"] for f in replayed] == [m["text"] for m in missed]
        assert [f["seq"] for f in replayed] == _consecutive_after(last_seen["seq"], MISSED)
        assert frames[-1]["streams"][stream] == {
            "recovered": True,
            "seq": replayed[-1]["seq"],
            "epoch": last_seen["epoch"],
        }

        # Live again: the next message comes once, right after the replayed ones.
        as_alice.send(conversation, "welcome back")
        after = ws.collect(bob_socket, ws.event("message.sent", stream))
        on_stream = [f for f in after if f.get("stream") == stream and "seq" in f]
        assert [(f["seq"], f["data"]["text"]) for f in on_stream] == [
            (replayed[-1]["seq"] + 1, "welcome back")
        ]

    history = expect(
        api.as_(bob).get(f"/api/v1/conversations/{conversation}/messages", params={"after_seq": 0}),
        200,
    )
    texts = [m["text"] for m in history["items"]]
    assert texts == ["hi bob", "and over REST", *(m["text"] for m in missed), "welcome back"]


def test_a_stranger_can_neither_read_nor_resume_nor_write_a_conversation(
    api: Api, admin: Api, alice: User, bob: User, websocket_url: str
) -> None:
    # The admin account is a stranger to alice and bob's conversation: staff or not, it is 404.
    conversation = _direct(api, alice, bob)
    stream = f"conv:{conversation}"

    refused = error_of(admin.get(f"/api/v1/conversations/{conversation}/messages"), 404)
    assert refused["code"] == "conversation_not_found"

    assert admin.token is not None
    with ws.socket(websocket_url, admin.token) as conn:
        ws.send(conn, {"type": "resume", "id": "r", "streams": {stream: 0}})
        answer = ws.until(conn, lambda f: f["type"] == "ack" and f.get("id") == "r")
        ws.send(
            conn,
            {
                "type": "message.send",
                "id": "s",
                "conversation_id": conversation,
                "text": "let me in",
                "client_msg_id": "stranger",
            },
        )
        written = ws.until(conn, lambda f: f.get("id") == "s")
    assert answer["streams"][stream] == {"recovered": False, "reason": "forbidden"}
    assert (written["type"], written["error"]["code"]) == ("error", "conversation_not_found")


def _direct(api: Api, one: User, other: User) -> int:
    """The direct conversation of two users (created, or the existing one)."""
    created = api.as_(one).post("/api/v1/conversations", {"kind": "direct", "members": [other.id]})
    assert created.status_code in {200, 201}, created.text
    return int(created.json()["id"])


def _consecutive_after(seq: int, count: int) -> list[int]:
    return list(range(seq + 1, seq + 1 + count))
