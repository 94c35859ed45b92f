"""Real mode: sockets on a `realtime` process, writes on a `web` process, Redis between them."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from cleave.testing.processes import free_port
from cleave.testing.servers import realtime_server_command, running_server, web_server_command
from tests.e2e.test_realtime import http, next_event, recv, rename, signed_in, socket_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis"),
]


@pytest.fixture(scope="module")
def processes(django_db_setup: None, django_db_blocker: object) -> Iterator[tuple[str, str]]:
    import redis

    # The test database restarts user ids at 1; streams left by an earlier run must not linger.
    client = redis.Redis.from_url(settings.CONFIG.redis_url)
    for key in client.scan_iter(match="cleave:rt:*", count=1000):
        client.delete(key)
    database = settings.CONFIG.database
    test_database = settings.DATABASES["default"]["NAME"]
    env = {
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{test_database}"
    }
    web_port, realtime_port = free_port(), free_port()
    with (
        running_server(web_server_command(web_port), port=web_port, env=env) as web,
        running_server(
            realtime_server_command(realtime_port), port=realtime_port, env=env
        ) as realtime,
    ):
        yield web, realtime


def verified(tokens: dict[str, Any]) -> dict[str, Any]:
    """Real mode lets only verified accounts chat: vouch for this one's address (the servers
    share this test's database)."""
    call_command("users_verify", tokens["user"]["email"], stdout=io.StringIO())
    return tokens


def test_an_event_written_on_web_reaches_a_socket_on_realtime(processes: tuple[str, str]) -> None:
    web, realtime = processes
    tokens = signed_in(web)
    with socket_for(realtime, tokens["access"]) as socket:
        rename(web, tokens["access"], "across")
        frame = recv(socket)
    assert (frame["event"], frame["data"]["display_name"], frame["seq"]) == (
        "user.updated",
        "across",
        1,
    )


def test_resume_replays_from_redis_after_a_gap(processes: tuple[str, str]) -> None:
    web, realtime = processes
    tokens = signed_in(web)
    stream = f"user:{tokens['user']['id']}"
    for n in range(20):
        rename(web, tokens["access"], f"n{n}")
    with socket_for(realtime, tokens["access"]) as socket:
        socket.send(json.dumps({"type": "resume", "id": 1, "streams": {stream: 5}}))
        frames = [recv(socket) for _ in range(16)]
    assert [f["seq"] for f in frames[:15]] == list(range(6, 21))
    assert frames[15]["streams"][stream]["recovered"] is True


def test_an_idle_socket_still_receives_after_ten_seconds(processes: tuple[str, str]) -> None:
    """redis-py's default socket timeout would break the subscription's blocking read."""
    web, realtime = processes
    tokens = signed_in(web)
    with socket_for(realtime, tokens["access"]) as socket:
        time.sleep(11)
        rename(web, tokens["access"], "after idling")
        assert recv(socket)["data"]["display_name"] == "after idling"


def test_signing_out_on_web_closes_the_socket_on_realtime(processes: tuple[str, str]) -> None:
    from tests.e2e.test_realtime import closed_with

    web, realtime = processes
    tokens = signed_in(web)
    with socket_for(realtime, tokens["access"]) as socket:
        http(web, "POST", "/api/v1/auth/logout", token=tokens["access"])
        code, frames = closed_with(socket)
    assert (code, frames[-1]["error"]["code"]) == (4401, "session_revoked")


def test_a_message_sent_on_web_reaches_the_members_socket_on_realtime(
    processes: tuple[str, str],
) -> None:
    web, realtime = processes
    ada, bob = verified(signed_in(web)), verified(signed_in(web))
    created = http(
        web,
        "POST",
        "/api/v1/conversations",
        {"kind": "direct", "members": [bob["user"]["id"]]},
        ada["access"],
    )
    with socket_for(realtime, bob["access"]) as socket:
        http(
            web,
            "POST",
            f"/api/v1/conversations/{created['id']}/messages",
            {"text": "across processes", "client_msg_id": "x1"},
            ada["access"],
        )
        frame = next_event(socket)
    assert (frame["stream"], frame["event"], frame["data"]["text"]) == (
        f"conv:{created['id']}",
        "message.sent",
        "across processes",
    )
