"""Two users chat over real sockets (embedded server): send, receive, miss 50, resume."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from cleave.testing.processes import embedded_env, free_port
from cleave.testing.servers import embedded_server_command, running_server
from tests.e2e.test_realtime import http, recv, signed_in, socket_for

server_env: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {
        **embedded_env(tmp_path_factory.mktemp("chat")),
        "CLEAVE_PRESENCE_GRACE_MS": "300",
        "CLEAVE_MESSAGING_SEND_RATE": "1000/s",  # ada sends 50 while bob is in a tunnel
    }
    server_env.update(env)
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        yield base


def _until(socket: Any, kind: str, event: str | None = None, **match: Any) -> dict[str, Any]:
    while True:
        frame = recv(socket)
        if frame["type"] != kind or (event is not None and frame.get("event") != event):
            continue
        if all(frame.get(key) == value for key, value in match.items()):
            return frame


def test_two_users_chat_and_a_reconnecting_phone_misses_nothing(server: str) -> None:
    ada, bob = signed_in(server), signed_in(server)
    with (
        socket_for(server, ada["access"]) as ada_socket,
        socket_for(server, bob["access"]) as bob_socket,
    ):
        created = http(
            server,
            "POST",
            "/api/v1/conversations",
            {"kind": "direct", "members": [bob["user"]["id"]]},
            ada["access"],
        )
        stream = f"conv:{created['id']}"
        joined = _until(bob_socket, "event", "stream.joined")
        assert joined["data"] == {"stream": stream}
        _until(ada_socket, "event", "stream.joined")

        ada_socket.send(
            json.dumps(
                {
                    "type": "message.send",
                    "id": "s1",
                    "conversation_id": created["id"],
                    "text": "hi bob",
                    "client_msg_id": "m1",
                }
            )
        )
        ack = _until(ada_socket, "ack")
        assert (ack["id"], ack["created"], ack["message"]["seq"]) == ("s1", True, 1)
        got = _until(bob_socket, "event", "message.sent")
        assert (got["stream"], got["seq"], got["data"]["text"]) == (stream, 1, "hi bob")

    for n in range(50):  # bob is in a tunnel
        http(
            server,
            "POST",
            f"/api/v1/conversations/{created['id']}/messages",
            {"text": f"m{n}", "client_msg_id": f"r{n}"},
            ada["access"],
        )
    with socket_for(server, bob["access"]) as bob_socket:
        bob_socket.send(json.dumps({"type": "resume", "id": "r", "streams": {stream: 1}}))
        # Presence frames (ada's socket closed a moment ago) may come in between.
        frames = []
        while len(frames) < 51:
            frame = recv(bob_socket)
            if frame["type"] != "presence":
                frames.append(frame)
    assert [f["seq"] for f in frames[:50]] == list(range(2, 52))
    assert [f["data"]["text"] for f in frames[:50]] == [f"m{n}" for n in range(50)]
    assert frames[50]["streams"][stream]["recovered"] is True


def test_a_socket_cannot_resume_a_conversation_it_is_not_in(server: str) -> None:
    ada, bob, eve = signed_in(server), signed_in(server), signed_in(server)
    created = http(
        server,
        "POST",
        "/api/v1/conversations",
        {"kind": "direct", "members": [bob["user"]["id"]]},
        ada["access"],
    )
    with socket_for(server, eve["access"]) as eve_socket:
        eve_socket.send(
            json.dumps({"type": "resume", "id": 1, "streams": {f"conv:{created['id']}": 0}})
        )
        answer = recv(eve_socket)
        eve_socket.send(
            json.dumps(
                {
                    "type": "message.send",
                    "id": 2,
                    "conversation_id": created["id"],
                    "text": "x",
                    "client_msg_id": "e",
                }
            )
        )
        refused = recv(eve_socket)
    assert answer["streams"][f"conv:{created['id']}"] == {"recovered": False, "reason": "forbidden"}
    assert (refused["type"], refused["id"], refused["error"]["code"]) == (
        "error",
        2,
        "conversation_not_found",
    )


def test_typing_and_presence_reach_the_other_member_and_are_not_stored(server: str) -> None:
    ada, bob = signed_in(server), signed_in(server)
    created = http(
        server,
        "POST",
        "/api/v1/conversations",
        {"kind": "direct", "members": [bob["user"]["id"]]},
        ada["access"],
    )
    stream = f"conv:{created['id']}"
    with socket_for(server, bob["access"]) as bob_socket:
        with socket_for(server, ada["access"]) as ada_socket:
            came = _until(bob_socket, "presence", user_id=ada["user"]["id"])
            assert (came["stream"], came["user_id"], came["online"]) == (
                stream,
                ada["user"]["id"],
                True,
            )
            ada_socket.send(json.dumps({"type": "typing", "stream": stream}))
            typing = _until(bob_socket, "typing")
            assert (typing["stream"], typing["user_id"]) == (stream, ada["user"]["id"])
            assert "seq" not in typing
            bob_socket.send(json.dumps({"type": "presence", "id": "p", "stream": stream}))
            answer = _until(bob_socket, "ack")
            assert sorted(answer["online"]) == sorted([ada["user"]["id"], bob["user"]["id"]])
            ada_socket.send(json.dumps({"type": "typing", "stream": "conv:999999"}))
            assert _until(ada_socket, "error")["error"]["code"] == "stream_not_joined"
        gone = _until(bob_socket, "presence", online=False)  # after the grace period
        assert (gone["user_id"], gone["online"]) == (ada["user"]["id"], False)
        bob_socket.send(json.dumps({"type": "resume", "id": "r", "streams": {stream: 0}}))
        replay = _until(bob_socket, "ack")
    assert replay["streams"][stream] == {
        "recovered": True,
        "seq": 0,
        "epoch": None,
    }  # nothing stored


def test_a_flag_change_through_the_ops_api_reaches_a_live_socket(
    server: str, tmp_path: Any
) -> None:
    import subprocess
    import sys

    from cleave.testing.processes import ROOT, process_env

    env = dict(server_env)
    env.update(
        DJANGO_SUPERUSER_EMAIL="ops-rt@example.com", DJANGO_SUPERUSER_PASSWORD="pw-ops-12345"
    )
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput"],
        cwd=ROOT,
        env=process_env(env),
        check=True,
        capture_output=True,
    )
    login = {
        "email": "ops-rt@example.com",
        "password": "pw-ops-12345",
        "device": {"device_id": "ops", "platform": "web", "app_version": "1.0"},
    }
    ops = http(server, "POST", "/api/v1/auth/login", login)
    user = signed_in(server)
    with socket_for(server, user["access"]) as socket:
        http(
            server,
            "PUT",
            "/api/ops/flags/new-composer/",
            {"percent": 5, "client_visible": True},
            ops["access"],
        )
        changed = _until(socket, "event", "flags.changed")
    assert changed["stream"] == "flags"
    assert changed["data"]["version"] >= 2
    flags = http(server, "GET", "/api/v1/flags", token=user["access"])
    assert "new-composer" in flags["flags"]
