"""Issue 16, smaller items: the embedded server limits header size and WebSocket frame size as
the gateway does.

nginx (the split topology's gateway) refuses a request whose header lines do not fit its
buffers (`large_client_header_buffers 4 8k`: 8 KiB a line, 32 KiB in all); uvicorn took
headers of any size and WebSocket frames up to 16 MiB, which the gateway consumer then read
whole before refusing anything over its 64 KiB frame limit.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cleave.testing.processes import embedded_env, free_port
from cleave.testing.servers import embedded_server_command, running_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = embedded_env(Path(tmp_path_factory.mktemp("limits")))
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        yield base


def _status_of(base: str, headers: list[tuple[str, str]]) -> int:
    host, port = base.removeprefix("http://").split(":")
    lines = ["GET /healthz HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers]
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Refused while we were still sending: read what it answered.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                data += chunk
    if not data:
        return 0  # closed without an answer
    return int(data.split(b" ", 2)[1])


def _read_until_closed(ws: ClientConnection) -> None:
    while True:
        ws.recv(timeout=10)


def test_ordinary_headers_pass(server: str) -> None:
    assert _status_of(server, [("X-Note", "a" * 4000)]) == 200


def test_one_header_line_over_the_gateway_s_8_kib_is_refused(server: str) -> None:
    assert _status_of(server, [("X-Big", "a" * 9000)]) == 431


def test_headers_over_the_gateway_s_32_kib_in_all_are_refused(server: str) -> None:
    headers = [(f"X-Part-{n}", "b" * 4000) for n in range(10)]
    assert _status_of(server, headers) == 431


def test_a_head_of_megabytes_is_refused_before_it_is_buffered_and_the_server_lives_on(
    server: str,
) -> None:
    assert _status_of(server, [("X-Huge", "c" * (4 * 1024 * 1024))]) in {0, 431}
    assert _status_of(server, []) == 200


def test_a_request_line_over_8_kib_is_refused(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(f"GET /healthz?{'q' * 9000} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 414")


def test_a_frame_over_the_consumer_s_limit_but_within_the_socket_s_gets_a_readable_error(
    server: str,
) -> None:
    url = server.replace("http://", "ws://") + "/ws/v1"
    with connect(url, open_timeout=10) as ws:
        ws.send("x" * (100 * 1024))
        frame = json.loads(ws.recv(timeout=10))
    assert frame["type"] == "error", frame
    assert frame["error"]["code"] == "frame_too_large", frame


def test_a_websocket_frame_far_over_the_frame_limit_closes_the_socket_with_1009(
    server: str,
) -> None:
    url = server.replace("http://", "ws://") + "/ws/v1"
    with connect(url, max_size=None, open_timeout=10) as ws:
        ws.send("x" * (1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            _read_until_closed(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
