"""The real servers: the embedded one-process server, `realtime` (uvicorn) and `web` (granian)."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect

from cleave.testing.processes import free_port
from cleave.testing.servers import (
    embedded_server_command,
    realtime_server_command,
    running_server,
    web_server_command,
)


@pytest.fixture(scope="module")
def embedded_server() -> Iterator[str]:
    port = free_port()
    with running_server(embedded_server_command(port), port=port) as base:
        yield base


@pytest.fixture(scope="module")
def realtime_server() -> Iterator[str]:
    port = free_port()
    with running_server(realtime_server_command(port), port=port) as base:
        yield base


@pytest.fixture(scope="module")
def web_server() -> Iterator[str]:
    port = free_port()
    with running_server(web_server_command(port), port=port) as base:
        yield base


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
        return response.status, dict(response.headers), json.loads(response.read())


def _ping(ws_url: str) -> None:
    with connect(ws_url, open_timeout=5) as socket:
        socket.send(json.dumps({"type": "ping", "id": "p1"}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "pong", "id": "p1"}
        socket.send("{not json")
        error = json.loads(socket.recv(timeout=5))
        assert error["type"] == "error"
        assert error["error"]["code"] == "malformed_json"
        # A malformed frame never kills the connection.
        socket.send(json.dumps({"type": "ping", "id": 2}))
        assert json.loads(socket.recv(timeout=5)) == {"type": "pong", "id": 2}


def test_embedded_server_serves_http_and_websocket_on_one_port(embedded_server: str) -> None:
    status, headers, body = _get(embedded_server + "/api/v1/meta", {"X-Request-ID": "e2e-1"})
    assert status == 200
    assert headers["x-request-id"] == "e2e-1"
    port = embedded_server.rsplit(":", 1)[1]
    assert body["websocket_url"] == f"ws://127.0.0.1:{port}/ws/v1"
    _ping(body["websocket_url"])


def test_realtime_process_answers_ping_with_pong(realtime_server: str) -> None:
    _ping(realtime_server.replace("http://", "ws://") + "/ws/v1")


def test_web_process_serves_the_api(web_server: str) -> None:
    status, headers, body = _get(web_server + "/api/v1/meta")
    assert status == 200
    assert body["name"] == "cleave"
    assert headers["x-request-id"]


def test_embedded_server_refuses_an_oversized_body_in_the_envelope(embedded_server: str) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        embedded_server + "/api/v1/meta", data=b"x" * (11 * 1024 * 1024), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback
    assert caught.value.code == 413
    assert json.loads(caught.value.read())["error"]["code"] == "payload_too_large"


def test_web_process_runs_the_browser_stack_only_for_browser_paths(web_server: str) -> None:
    with urllib.request.urlopen(web_server + "/admin/login/", timeout=5) as response:  # noqa: S310
        assert response.status == 200
        assert "csrftoken" in response.headers.get("Set-Cookie", "")
        assert response.headers["X-Frame-Options"] == "DENY"
    status, headers, _ = _get(web_server + "/api/v1/meta")
    assert status == 200
    assert "set-cookie" not in {name.lower() for name in headers}
    assert "x-frame-options" not in {name.lower() for name in headers}


def test_web_process_answers_api_errors_in_the_envelope(web_server: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(web_server + "/api/v1/missing", timeout=5)  # noqa: S310
    assert caught.value.code == 404
    assert json.loads(caught.value.read())["error"]["code"] == "not_found"
