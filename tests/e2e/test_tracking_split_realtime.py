"""Split mode's shape: sockets on a realtime process that does not host tracking (it hosts
messaging), tracking and identity on a web process, Redis between them. Tracking's
`location:<user>` streams and `tracking.batch` frames still work: the realtime process asks the
web process over HTTP (cleave.realtime.remote → /internal/_realtime/tracking/…), never loading
tracking's code — and a revoked share cuts the recipient off.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from cleave import contexts
from cleave.remote.service_tokens import generate_key
from cleave.testing.processes import ROOT, free_port
from cleave.testing.servers import realtime_server_command, running_server, web_server_command
from tests.e2e.test_tracking_socket import account, frames_until, http

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis"),
]
WEB_HOSTS = ("identity", "tracking")
REALTIME_HOSTS = ("messaging",)


@pytest.fixture(scope="module")
def processes(django_db_setup: None, django_db_blocker: object) -> Iterator[tuple[str, str]]:
    import redis

    client = redis.Redis.from_url(settings.CONFIG.redis_url)
    for key in client.scan_iter(match="cleave:rt:*", count=1000):
        client.delete(key)
    database = settings.CONFIG.database
    test_database = settings.DATABASES["default"]["NAME"]
    shared = {
        # Both share this test's database (each reads only its own contexts' tables).
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}"
        f"/{test_database}",
    }
    web_key, web_jwk = generate_key("web")
    realtime_key, realtime_jwk = generate_key("realtime")
    jwks = json.dumps({"keys": [web_jwk, realtime_jwk]})
    web_port, realtime_port = free_port(), free_port()
    web_url = f"http://127.0.0.1:{web_port}"
    web_env = {
        **shared,
        "CLEAVE_CONTEXTS": ",".join(WEB_HOSTS),
        "CLEAVE_SERVICE_NAME": "web",
        "CLEAVE_SERVICE_KEY": web_key,
        "CLEAVE_SERVICE_JWKS": jwks,
    }
    # Every contract the realtime process does not provide is at the web process (those of
    # contexts neither hosts are never called here).
    elsewhere = [
        name
        for context in contexts.declared()
        if context.label not in REALTIME_HOSTS
        for name in context.contracts
    ]
    realtime_env = {
        **shared,
        "CLEAVE_CONTEXTS": ",".join(REALTIME_HOSTS),
        "CLEAVE_SERVICE_NAME": "realtime",
        "CLEAVE_SERVICE_KEY": realtime_key,
        "CLEAVE_SERVICE_JWKS": jwks,
        "CLEAVE_JWKS_URL": f"{web_url}/.well-known/jwks.json",
        "CLEAVE_FLAGS_URL": web_url,
        **{f"CLEAVE_{name.upper()}_URL": web_url for name in elsewhere},
    }
    with (
        running_server(web_server_command(web_port), port=web_port, env=web_env) as web,
        running_server(
            realtime_server_command(realtime_port), port=realtime_port, env=realtime_env
        ) as realtime,
    ):
        yield web, realtime.replace("http://", "ws://") + "/ws/v1"


def _initial_requests(web: str) -> int:
    """How many `initial` questions the web process has answered (its access log)."""
    port = web.rsplit(":", 1)[1]
    log = (ROOT / "var" / f"server-{port}.log").read_text(errors="replace")
    return log.count("POST /internal/_realtime/tracking/initial 200")


def _socket(url: str, token: str) -> ClientConnection:
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"})


def _batch(frame_id: str, lat: float) -> str:
    t = (datetime.now(UTC) - timedelta(seconds=30)).isoformat()
    return json.dumps(
        {
            "type": "tracking.batch",
            "id": frame_id,
            "batch_id": f"split-{frame_id}-{time.monotonic_ns()}",
            "device_time": datetime.now(UTC).isoformat(),
            "points": [{"t": t, "lat": lat, "lon": 2.5, "accuracy": 9}],
        }
    )


def _quiet(socket: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    """Every frame the socket gets within `seconds`."""
    frames, deadline = [], time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            frames.append(json.loads(socket.recv(timeout=left)))
        except (TimeoutError, ConnectionClosed):
            break
    return frames


def test_live_share_frames_cross_a_realtime_process_not_hosting_tracking_until_revoked(
    processes: tuple[str, str],
) -> None:
    web, ws = processes
    ada_id, ada = account(web, "ada")
    bob_id, bob = account(web, "bob")
    http(web, "PUT", "/api/v1/tracking/consent", {"granted": True}, ada)
    share = http(web, "POST", "/api/v1/tracking/shares", {"user_id": bob_id, "minutes": 5}, ada)
    stream = share["stream"]
    assert stream == f"location:{ada_id}"
    with _socket(ws, bob) as bob_socket, _socket(ws, ada) as ada_socket:
        ready = frames_until(bob_socket, lambda f: f["type"] == "ready")
        assert stream in ready["streams"]  # tracking's `initial`, asked of the web process
        frames_until(ada_socket, lambda f: f["type"] == "ready")

        # A frame the realtime process cannot validate itself: tracking's service does.
        ada_socket.send(json.dumps({"type": "tracking.batch", "id": "bad", "points": 5}))
        refused = frames_until(ada_socket, lambda f: f.get("id") == "bad")
        assert (refused["type"], refused["error"]["code"]) == ("error", "validation_error")

        ada_socket.send(_batch("up-1", 48.5))
        ack = frames_until(ada_socket, lambda f: f.get("id") == "up-1")
        assert (ack["type"], ack["result"]["accepted"]) == ("ack", {"points": 1, "actions": 0})
        update = frames_until(bob_socket, lambda f: f.get("event") == "location.updated")
        assert (update["stream"], update["data"]["lat"]) == (stream, 48.5)

        http(web, "DELETE", f"/api/v1/tracking/shares/{share['id']}", token=ada)
        left = frames_until(bob_socket, lambda f: f.get("event") == "stream.left")
        assert left["data"] == {"stream": stream}

        ada_socket.send(_batch("up-2", 49.5))
        ack = frames_until(ada_socket, lambda f: f.get("id") == "up-2")
        assert ack["type"] == "ack"
        bob_socket.send(json.dumps({"type": "resume", "id": "r", "streams": {stream: 0}}))
        seen = _quiet(bob_socket, 2.0)
        assert not [f for f in seen if f.get("stream") == stream], seen
        resumed = next(f for f in seen if f.get("id") == "r")
        assert resumed["streams"][stream] == {"recovered": False, "reason": "forbidden"}

    with _socket(ws, bob) as again:
        ready = frames_until(again, lambda f: f["type"] == "ready")
        assert stream not in ready["streams"]


def test_sockets_connecting_together_ask_the_host_once_a_batch(processes: tuple[str, str]) -> None:
    web, ws = processes
    sharers = [account(web, f"sharer{n}") for n in range(3)]
    reader_id, reader = account(web, "reader")
    streams = set()
    for _, token in sharers:
        http(web, "PUT", "/api/v1/tracking/consent", {"granted": True}, token)
        body = {"user_id": reader_id, "minutes": 5}
        streams.add(http(web, "POST", "/api/v1/tracking/shares", body, token)["stream"])
    before = _initial_requests(web)
    count = 60

    def ready_streams(_: int) -> set[str]:
        with _socket(ws, reader) as socket:
            return set(frames_until(socket, lambda f: f["type"] == "ready")["streams"])

    with ThreadPoolExecutor(max_workers=count) as pool:
        seen = list(pool.map(ready_streams, range(count)))
    assert all(streams <= joined for joined in seen)  # every socket joined every share
    asked = _initial_requests(web) - before
    # Admitted in batches: one request for each, not one per socket.
    assert 0 < asked < count / 2, asked
