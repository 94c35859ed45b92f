"""Over a real socket, against the embedded server: a `tracking.batch` frame is acked like the
REST upload, and a share's recipient gets `location.updated` on the sharer's stream.

End to end across identity (the accounts) and tracking, so it lives here and not beside
tracking's code: tracking's own tests must pass in its extracted file set, identity absent."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from cleave.testing.processes import embedded_env, free_port
from cleave.testing.servers import embedded_server_command, running_server

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    # Accounts come from identity: the server hosts it beside tracking whatever this process
    # hosts (CI runs tracking's tests with CLEAVE_CONTEXTS=tracking); migrated with it too.
    hosted = {"CLEAVE_CONTEXTS": "identity,tracking"}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CLEAVE_CONTEXTS", hosted["CLEAVE_CONTEXTS"])
        env = {**embedded_env(tmp_path_factory.mktemp("tracking")), **hosted}
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        yield base


def http(base: str, method: str, path: str, body: Any = None, token: str = "") -> Any:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        raw = response.read()
    return json.loads(raw) if raw else None


def account(base: str, name: str) -> tuple[int, str]:
    email = f"{name}-{time.monotonic_ns()}@example.com"
    device = {"device_id": "phone", "platform": "ios", "app_version": "1.0"}
    body = {"email": email, "password": PASSWORD, "display_name": name, "device": device}
    tokens = http(base, "POST", "/api/v1/auth/register", body)["tokens"]
    return int(tokens["user"]["id"]), tokens["access"]


def frames_until(socket: ClientConnection, wanted: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        frame = json.loads(socket.recv(timeout=10))
        if wanted(frame):
            return frame
    raise AssertionError("no such frame")


def test_a_batch_frame_is_acked_and_the_share_recipient_sees_the_location(server: str) -> None:
    ada_id, ada = account(server, "ada")
    bob_id, bob = account(server, "bob")
    http(server, "PUT", "/api/v1/tracking/consent", {"granted": True}, ada)
    share = http(server, "POST", "/api/v1/tracking/shares", {"user_id": bob_id, "minutes": 5}, ada)
    url = server.replace("http://", "ws://") + "/ws/v1"
    with (
        connect(url, additional_headers={"Authorization": f"Bearer {bob}"}) as bob_socket,
        connect(url, additional_headers={"Authorization": f"Bearer {ada}"}) as ada_socket,
    ):
        ready = frames_until(bob_socket, lambda f: f["type"] == "ready")
        assert share["stream"] in ready["streams"]  # joined at connect: the share is active
        frames_until(ada_socket, lambda f: f["type"] == "ready")
        t = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
        ada_socket.send(
            json.dumps(
                {
                    "type": "tracking.batch",
                    "id": "up-1",
                    "batch_id": "socket-1",
                    "device_time": datetime.now(UTC).isoformat(),
                    "points": [{"t": t, "lat": 48.5, "lon": 2.5, "accuracy": 9}, {"lat": 300}],
                }
            )
        )
        ack = frames_until(ada_socket, lambda f: f.get("id") == "up-1")
        assert ack["type"] == "ack", ack
        assert ack["result"]["accepted"] == {"points": 1, "actions": 0}
        assert ack["result"]["rejected"] == 1
        update = frames_until(bob_socket, lambda f: f.get("event") == "location.updated")
        assert update["stream"] == f"location:{ada_id}"
        assert (update["data"]["lat"], update["data"]["lon"]) == (48.5, 2.5)
