"""Finding 7 of the adversarial probe (issue 16): forced membership and spam, on a live server.

Before: anyone could put anyone into a group (and back in after they left), which also showed
their presence to the group; a blocked user had nothing to stop them; sends were unlimited
(60 REST sends in 0.7 s). Now adding someone is an invitation they accept, identity's blocks
reach messaging as events, and sends share one per-user budget over REST and the socket.

One embedded server for the module (with the default send limit, 20 per 10 s), so events run
through the real outbox and the socket is the real one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from websockets.sync.client import ClientConnection

from cleave.testing.processes import embedded_env, free_port
from cleave.testing.servers import embedded_server_command, running_server
from tests.e2e.test_realtime import recv, signed_in, socket_for

SEND_LIMIT = 20  # the default: CLEAVE_MESSAGING_SEND_RATE = "20/10s"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = embedded_env(tmp_path_factory.mktemp("forced-membership"))
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        yield base


def call(
    base: str, method: str, path: str, token: str, body: Any = None
) -> tuple[int, Any, Message]:
    """(status, JSON body, headers: case-insensitive), errors included."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            raw, status, answer_headers = response.read(), response.status, response.headers
    except urllib.error.HTTPError as error:
        raw, status, answer_headers = error.read(), error.code, error.headers
    return status, (json.loads(raw) if raw else None), answer_headers


def user(base: str) -> dict[str, Any]:
    tokens = signed_in(base)
    return {"id": tokens["user"]["id"], "token": tokens["access"]}


def group(base: str, owner: dict[str, Any], *members: dict[str, Any]) -> int:
    body = {"kind": "group", "members": [m["id"] for m in members], "title": "probe"}
    status, answer, _ = call(base, "POST", "/api/v1/conversations", owner["token"], body)
    assert status == 201, answer
    return int(answer["id"])


def until(condition: Any, timeout: float = 5.0) -> Any:
    """Events reach the other context after commit: wait for their effect, briefly."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def online_in(socket: ClientConnection, conversation_id: int) -> list[int]:
    frame_id = uuid.uuid4().hex
    socket.send(
        json.dumps({"type": "presence", "id": frame_id, "stream": f"conv:{conversation_id}"})
    )
    while True:
        frame = recv(socket)
        if frame.get("id") == frame_id:
            assert frame["type"] == "ack", frame
            return list(frame["online"])


def test_a_stranger_cannot_put_you_in_a_group_nor_see_your_presence(server: str) -> None:
    mallory, victim = user(server), user(server)
    with socket_for(server, victim["token"]), socket_for(server, mallory["token"]) as watcher:
        # Given a group the stranger creates "with" the victim, and one they add the victim to
        created = group(server, mallory, victim)
        added = group(server, mallory, mallory)  # a group of one, to add the victim to
        path = f"/api/v1/conversations/{added}/members"
        status, answer, _ = call(server, "POST", path, mallory["token"], {"user_id": victim["id"]})
        assert status < 300, answer  # accepted: as an invitation (201) today

        # Then the victim is in neither: the stranger sees no member and no presence of theirs
        for conversation_id in (created, added):
            _, detail, _ = call(
                server, "GET", f"/api/v1/conversations/{conversation_id}", mallory["token"]
            )
            assert victim["id"] not in online_in(watcher, conversation_id)
            assert [m["user_id"] for m in detail["members"]] == [mallory["id"]]
            status, _, _ = call(
                server, "GET", f"/api/v1/conversations/{conversation_id}", victim["token"]
            )
            assert status == 404
        # and the victim holds two invitations instead
        _, invitations, _ = call(server, "GET", "/api/v1/invitations", victim["token"])
        assert sorted(i["conversation_id"] for i in invitations["items"]) == sorted(
            [created, added]
        )


def test_someone_who_left_is_invited_again_never_re_added(server: str) -> None:
    owner, friend = user(server), user(server)
    conversation_id = group(server, owner, friend)
    _, invitations, _ = call(server, "GET", "/api/v1/invitations", friend["token"])
    (invitation,) = invitations["items"]
    accept = f"/api/v1/invitations/{invitation['id']}/accept"
    status, joined, _ = call(server, "POST", accept, friend["token"])
    assert status == 200, joined
    assert {m["user_id"] for m in joined["members"]} == {owner["id"], friend["id"]}

    leave = f"/api/v1/conversations/{conversation_id}/members/{friend['id']}"
    assert call(server, "DELETE", leave, friend["token"])[0] == 204
    add = f"/api/v1/conversations/{conversation_id}/members"
    status, _, _ = call(server, "POST", add, owner["token"], {"user_id": friend["id"]})
    assert status < 300

    _, detail, _ = call(server, "GET", f"/api/v1/conversations/{conversation_id}", owner["token"])
    assert [m["user_id"] for m in detail["members"]] == [owner["id"]]
    _, invitations, _ = call(server, "GET", "/api/v1/invitations", friend["token"])
    (again,) = invitations["items"]
    decline = f"/api/v1/invitations/{again['id']}/decline"
    assert call(server, "POST", decline, friend["token"])[0] == 204
    _, invitations, _ = call(server, "GET", "/api/v1/invitations", friend["token"])
    assert invitations["items"] == []


def test_a_blocked_user_cannot_start_a_direct_conversation_or_invite_you(server: str) -> None:
    victim, mallory = user(server), user(server)
    status, answer, _ = call(
        server, "POST", f"/api/v1/users/{mallory['id']}/block", victim["token"]
    )
    assert status == 204, answer

    def refused_direct() -> bool:
        body = {"kind": "direct", "members": [victim["id"]]}
        status, answer, _ = call(server, "POST", "/api/v1/conversations", mallory["token"], body)
        return status == 403 and answer["error"]["code"] == "user_unavailable"

    assert until(refused_direct), "a blocked user still opened a direct conversation"
    conversation_id = group(server, mallory, mallory)
    add = f"/api/v1/conversations/{conversation_id}/members"
    status, answer, _ = call(server, "POST", add, mallory["token"], {"user_id": victim["id"]})
    assert (status, answer["error"]["code"]) == (403, "user_unavailable")
    _, invitations, _ = call(server, "GET", "/api/v1/invitations", victim["token"])
    assert invitations["items"] == []


def test_the_21st_send_in_ten_seconds_is_refused_over_rest_and_the_socket_alike(
    server: str,
) -> None:
    spammer, peer = user(server), user(server)
    direct = {"kind": "direct", "members": [peer["id"]]}
    _, conversation, _ = call(server, "POST", "/api/v1/conversations", spammer["token"], direct)
    path = f"/api/v1/conversations/{conversation['id']}/messages"
    # Start at the beginning of a 10-second window, so all 21 sends fall inside one.
    time.sleep(10.05 - time.time() % 10)
    with socket_for(server, spammer["token"]) as socket:
        first = None
        for n in range(SEND_LIMIT // 2):  # half over REST ...
            body = {"text": f"rest {n}", "client_msg_id": f"rest-{n}"}
            status, first, _ = call(server, "POST", path, spammer["token"], body)
            assert status == 201, first
        for n in range(SEND_LIMIT // 2):  # ... half over the socket: one budget
            frame = {"type": "message.send", "id": f"f{n}", "conversation_id": conversation["id"]}
            socket.send(json.dumps({**frame, "text": f"ws {n}", "client_msg_id": f"ws-{n}"}))
            while (answer := recv(socket)).get("id") != f"f{n}":
                pass
            assert answer["type"] == "ack", answer
        # a retry of a message already sent returns it and costs nothing
        retry = {"text": "rest 0", "client_msg_id": "rest-0"}
        assert call(server, "POST", path, spammer["token"], retry)[0] == 200

        status, refused, headers = call(
            server, "POST", path, spammer["token"], {"text": "21st", "client_msg_id": "rest-21"}
        )
        assert status == 429, f"the 21st send in 10 s was accepted: {status} {refused}"
        assert refused["error"]["code"] == "rate_limited"
        assert 1 <= int(headers["Retry-After"]) <= 10
        frame = {"type": "message.send", "id": "over", "conversation_id": conversation["id"]}
        socket.send(json.dumps({**frame, "text": "21st", "client_msg_id": "ws-21"}))
        while (answer := recv(socket)).get("id") != "over":
            pass
        assert (answer["type"], answer["error"]["code"]) == ("error", "rate_limited"), answer
    assert first is not None
