"""The realtime gateway with real WebSocket clients against a live server."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cleave.testing.processes import embedded_env, free_port
from cleave.testing.servers import embedded_server_command, running_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**embedded_env(tmp_path_factory.mktemp("realtime")), "CLEAVE_REALTIME_AUTH_MS": "700"}
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        yield base


def http(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        raw = response.read()
    return json.loads(raw) if raw else None


_accounts = iter(range(10_000))


def signed_in(base: str) -> dict[str, Any]:
    email = f"rt{next(_accounts)}-{time.monotonic_ns()}@example.com"
    device = {"device_id": "phone", "platform": "ios", "app_version": "1.0"}
    body = {"email": email, "password": PASSWORD, "display_name": "RT", "device": device}
    return http(base, "POST", "/api/v1/auth/register", body)["tokens"]


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/ws/v1"


def recv(socket: ClientConnection) -> dict[str, Any]:
    return json.loads(socket.recv(timeout=5))


def next_event(socket: ClientConnection) -> dict[str, Any]:
    """The next stored event frame, past signals (presence, typing) that may come first."""
    while True:
        frame = recv(socket)
        if frame["type"] == "event":
            return frame


@contextmanager
def socket_for(base: str, token: str) -> Iterator[ClientConnection]:
    with connect(ws_url(base), additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        assert recv(socket)["type"] == "ready"
        yield socket


def closed_with(socket: ClientConnection) -> tuple[int | None, list[dict[str, Any]]]:
    frames = []
    try:
        while True:  # a shared CI machine can stall the server for seconds: patience, not a bug
            frames.append(json.loads(socket.recv(timeout=20)))
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), frames


def rename(base: str, token: str, name: str) -> None:
    http(base, "PATCH", "/api/v1/me", {"display_name": name}, token)


def test_a_socket_authenticates_with_the_header_and_gets_its_events(server: str) -> None:
    tokens = signed_in(server)
    with socket_for(server, tokens["access"]) as socket:
        rename(server, tokens["access"], "Renamed")
        frame = recv(socket)
    assert frame["type"] == "event"
    assert frame["stream"] == f"user:{tokens['user']['id']}"
    assert (frame["seq"], frame["event"], frame["data"]["display_name"]) == (
        1,
        "user.updated",
        "Renamed",
    )
    assert isinstance(frame["epoch"], str)


def test_a_socket_may_authenticate_with_a_first_frame(server: str) -> None:
    tokens = signed_in(server)
    with connect(ws_url(server)) as socket:
        socket.send(json.dumps({"type": "ping", "id": 1}))
        assert recv(socket) == {"type": "pong", "id": 1}
        socket.send(json.dumps({"type": "resume", "id": 2, "streams": {"user:1": 0}}))
        assert recv(socket)["error"]["code"] == "unauthorized"
        socket.send(json.dumps({"type": "auth", "id": 3, "token": tokens["access"]}))
        ready = recv(socket)
    assert (ready["type"], ready["id"], ready["user_id"]) == ("ready", 3, tokens["user"]["id"])


def test_a_socket_that_never_authenticates_is_closed_with_auth_timeout(server: str) -> None:
    with connect(ws_url(server)) as socket:
        code, frames = closed_with(socket)
    assert code == 4408
    assert frames[-1]["error"]["code"] == "auth_timeout"


def test_a_bad_token_or_a_token_in_the_url_is_closed_unauthorized(server: str) -> None:
    with connect(ws_url(server), additional_headers={"Authorization": "Bearer nope"}) as socket:
        code, frames = closed_with(socket)
    assert (code, frames[-1]["error"]["code"]) == (4401, "token_invalid")
    tokens = signed_in(server)
    with connect(ws_url(server) + f"?token={tokens['access']}") as socket:
        code, frames = closed_with(socket)
    assert (code, frames[-1]["error"]["code"]) == (4401, "token_in_url")


def test_malformed_oversized_and_unknown_frames_get_error_frames(server: str) -> None:
    tokens = signed_in(server)
    with socket_for(server, tokens["access"]) as socket:
        socket.send("{nope")
        assert recv(socket)["error"]["code"] == "malformed_json"
        socket.send(json.dumps({"type": "ping", "pad": "x" * 70_000}))
        assert recv(socket)["error"]["code"] == "frame_too_large"
        socket.send(json.dumps({"type": "teleport", "id": 9}))
        assert recv(socket)["error"] == {
            "code": "unknown_type",
            "message": "Unknown frame type 'teleport'.",
        }
        socket.send(json.dumps({"type": "resume", "id": 10, "streams": {"user:999999": 0}}))
        assert recv(socket)["streams"]["user:999999"] == {"recovered": False, "reason": "forbidden"}
        socket.send(json.dumps({"type": "ping", "id": 11}))
        assert recv(socket) == {"type": "pong", "id": 11}  # still alive


def test_a_flood_of_frames_is_rate_limited_then_closed(server: str) -> None:
    tokens = signed_in(server)
    with socket_for(server, tokens["access"]) as socket:
        for n in range(100):
            socket.send(json.dumps({"type": "ping", "id": n}))
        code, frames = closed_with(socket)
    assert code == 4429
    assert any(f.get("error", {}).get("code") == "rate_limited" for f in frames)


def test_a_client_that_missed_50_events_gets_all_of_them_once_in_order(server: str) -> None:
    tokens = signed_in(server)
    stream = f"user:{tokens['user']['id']}"
    with socket_for(server, tokens["access"]) as socket:
        rename(server, tokens["access"], "n0")
        first = recv(socket)
    for n in range(1, 51):
        rename(server, tokens["access"], f"n{n}")  # the phone is in a tunnel
    with socket_for(server, tokens["access"]) as socket:
        socket.send(json.dumps({"type": "resume", "id": "r", "streams": {stream: first["seq"]}}))
        frames = [recv(socket) for _ in range(51)]
        rename(server, tokens["access"], "live")
        live = recv(socket)
    replayed, ack = frames[:50], frames[50]
    assert [f["seq"] for f in replayed] == list(range(2, 52))
    assert [f["data"]["display_name"] for f in replayed] == [f"n{n}" for n in range(1, 51)]
    assert ack == {
        "type": "ack",
        "id": "r",
        "streams": {stream: {"recovered": True, "seq": 51, "epoch": first["epoch"]}},
    }
    assert (live["seq"], live["data"]["display_name"]) == (52, "live")


def test_a_stale_epoch_gets_resync_required_never_a_silent_gap(server: str) -> None:
    tokens = signed_in(server)
    stream = f"user:{tokens['user']['id']}"
    rename(server, tokens["access"], "x")
    with socket_for(server, tokens["access"]) as socket:
        socket.send(
            json.dumps({"type": "resume", "id": 1, "streams": {stream: {"seq": 1, "epoch": "old"}}})
        )
        resync, ack = recv(socket), recv(socket)
    assert (resync["type"], resync["stream"], resync["reason"]) == (
        "resync_required",
        stream,
        "epoch_changed",
    )
    assert ack["streams"][stream]["recovered"] is False


def test_signing_out_closes_the_sessions_socket(server: str) -> None:
    tokens = signed_in(server)
    with socket_for(server, tokens["access"]) as socket:
        http(server, "POST", "/api/v1/auth/logout", token=tokens["access"])
        code, frames = closed_with(socket)
    assert (code, frames[-1]["error"]["code"]) == (4401, "session_revoked")


def test_the_history_is_gone_after_a_restart_so_resume_asks_for_a_resync(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    port = free_port()
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        tokens = signed_in(base)
        stream = f"user:{tokens['user']['id']}"
        with socket_for(base, tokens["access"]) as socket:
            rename(base, tokens["access"], "before")
            before = recv(socket)
    with (
        running_server(embedded_server_command(port), port=port, env=env) as base,
        socket_for(base, tokens["access"]) as socket,
    ):
        resume = {"seq": before["seq"], "epoch": before["epoch"]}
        socket.send(json.dumps({"type": "resume", "id": 1, "streams": {stream: resume}}))
        resync = recv(socket)
    assert (resync["type"], resync["reason"]) == ("resync_required", "history_gone")
