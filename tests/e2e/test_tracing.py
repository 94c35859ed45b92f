"""One request that sends a message is one trace: the HTTP span, the outbox publish, the
notifications subscriber's span (linked to the publish), its contract call to identity, and
the fan-out to the recipient's socket — in embedded mode (one process) and in real mode (web,
realtime and a Celery worker, each exporting to the same span file). The frame the socket
receives carries the trace id; the server's log lines carry it too.
"""

from __future__ import annotations

import io
import json
import secrets
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command

from cleave.testing.processes import embedded_env, free_port, wait_for
from cleave.testing.servers import (
    embedded_server_command,
    realtime_server_command,
    running_server,
    web_server_command,
)
from cleave.testing.workers import celery_worker
from tests.e2e.test_realtime import PASSWORD, http, next_event, socket_for

Spans = list[dict[str, Any]]


def _register(base: str, name: str, *, push_token: str | None = None) -> dict[str, Any]:
    device = {"device_id": f"{name}-phone", "platform": "ios", "app_version": "1.0"}
    if push_token:
        device["push_token"] = push_token
    body = {
        "email": f"{name}-{secrets.token_hex(4)}@example.com",
        "password": PASSWORD,
        "display_name": name,
        "device": device,
    }
    return http(base, "POST", "/api/v1/auth/register", body)["tokens"]


def _send_traced(base: str, conversation_id: int, token: str, trace_id: str) -> dict[str, Any]:
    """POST a message as an app would, continuing the app's own trace (W3C traceparent)."""
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{base}/api/v1/conversations/{conversation_id}/messages",
        data=json.dumps({"text": "traced hello", "client_msg_id": trace_id[:16]}).encode(),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
            "X-Request-ID": f"req-{trace_id[:8]}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        sent: dict[str, Any] = json.loads(response.read())
    return sent


def _spans_of(path: Path, trace_id: str) -> Spans:
    if not path.exists():
        return []
    # Only whole lines: a process may be in the middle of appending the last one.
    whole = path.read_text().rpartition("\n")[0]
    spans = [json.loads(line) for line in whole.splitlines() if line.strip()]
    return [span for span in spans if span["context"]["trace_id"] == f"0x{trace_id}"]


def _named(spans: Spans, prefix: str) -> dict[str, Any] | None:
    return next((span for span in spans if span["name"].startswith(prefix)), None)


def _the(spans: Spans, prefix: str) -> dict[str, Any]:
    span = _named(spans, prefix)
    assert span is not None, f"no {prefix!r} span among {[s['name'] for s in spans]}"
    return span


EXPECTED = (
    "POST",  # the HTTP server span (Django instrumentation)
    "publish messaging.message_sent",
    "deliver messaging.message_sent to notifications.on_message_sent",
    "contract identity.user_get",
    "fanout conv",
)


def _the_trace(
    web: str, realtime: str, span_file: Path, *, shares_database: bool = False
) -> tuple[Spans, dict[str, Any]]:
    ada, bob = _register(web, "ada"), _register(web, "bob")
    cyd = _register(web, "cyd", push_token="tok-" + secrets.token_hex(8))  # offline: a push
    if shares_database:  # real mode lets only verified accounts chat: vouch for them here
        emails = [who["user"]["email"] for who in (ada, bob, cyd)]
        call_command("users_verify", *emails, stdout=io.StringIO())
    created = http(
        web,
        "POST",
        "/api/v1/conversations",
        {"kind": "group", "title": "traced", "members": [bob["user"]["id"], cyd["user"]["id"]]},
        ada["access"],
    )
    for invitee in (bob, cyd):  # a group invites; each joins by accepting
        (invitation,) = http(web, "GET", "/api/v1/invitations", None, invitee["access"])["items"]
        http(web, "POST", f"/api/v1/invitations/{invitation['id']}/accept", {}, invitee["access"])
    trace_id = secrets.token_hex(16)
    with socket_for(realtime, bob["access"]) as bob_socket:  # on the conversation from "ready"
        _send_traced(web, created["id"], ada["access"], trace_id)
        frame = next_event(bob_socket)
        while frame["event"] != "message.sent":
            frame = next_event(bob_socket)

    def complete() -> Spans | None:
        spans = _spans_of(span_file, trace_id)
        return spans if all(_named(spans, name) for name in EXPECTED) else None

    # Generous: processes export in batches (every 5 s), and CI's real-mode run shares the
    # machine; it returns as soon as the trace is whole.
    try:
        spans = wait_for(complete, timeout=60)
    except TimeoutError:
        found = sorted({span["name"] for span in _spans_of(span_file, trace_id)})
        raise AssertionError(f"the trace after 60 s has {found}; expected {EXPECTED}") from None
    assert isinstance(spans, list)
    return spans, {"frame": frame, "trace_id": trace_id}


def _assert_one_connected_trace(spans: Spans, seen: dict[str, Any]) -> None:
    by_id = {span["context"]["span_id"]: span for span in spans}
    http_span, publish, deliver, call, fanout = (_the(spans, name) for name in EXPECTED)
    assert http_span["parent_id"] not in by_id  # the app's span is the root we sent
    # The publish happened inside the request; the subscriber continues from the publish
    # (parent) and is marked as asynchronous (a link to it); its identity call is its child.
    assert _ancestors(publish, by_id)[-1] is http_span
    assert deliver["parent_id"] == publish["context"]["span_id"]
    assert publish["context"]["span_id"] in {
        link["context"]["span_id"] for link in deliver["links"]
    }
    assert call["parent_id"] == deliver["context"]["span_id"]
    assert call["attributes"]["cleave.contract.caller"] == "notifications"
    assert call["attributes"]["cleave.contract.outcome"] == "ok"
    assert http_span in _ancestors(fanout, by_id)
    # The socket's frame names the trace, so an app's bug report can quote it.
    assert seen["frame"]["trace_id"] == seen["trace_id"]


def _ancestors(span: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    chain, parent = [], by_id.get(span.get("parent_id") or "")
    while parent is not None:
        chain.append(parent)
        parent = by_id.get(parent.get("parent_id") or "")
    return chain


def _trace_env(span_file: Path) -> dict[str, str]:
    return {"CLEAVE_TRACE_FILE": str(span_file), "OTEL_TRACES_SAMPLER": "parentbased_always_on"}


def test_embedded_one_request_is_one_trace(tmp_path: Path) -> None:
    span_file = tmp_path / "spans.jsonl"
    port = free_port()
    env = {**embedded_env(tmp_path), **_trace_env(span_file), "CLEAVE_PRESENCE_GRACE_MS": "0"}
    log = Path(settings.BASE_DIR) / "var" / f"server-{port}.log"
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        spans, seen = _the_trace(base, base, span_file)
        _assert_one_connected_trace(spans, seen)
        # The push to cyd's phone was logged inside the subscriber's span: ids on the line.
        wait_for(lambda: seen["trace_id"] in log.read_text(), timeout=10)
    line = next(line for line in log.read_text().splitlines() if seen["trace_id"] in line)
    assert f"req-{seen['trace_id'][:8]}" in line  # the publishing request's id, too


@pytest.fixture
def real_processes(
    django_db_setup: None, django_db_blocker: object, tmp_path: Path
) -> Iterator[tuple[str, str, Path]]:
    if settings.CONFIG.embedded:
        pytest.skip("real mode only: needs PostgreSQL, Redis and a Celery worker")
    span_file = tmp_path / "spans.jsonl"
    database = settings.CONFIG.database
    test_database = settings.DATABASES["default"]["NAME"]
    env = {
        "DATABASE_URL": (
            f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{test_database}"
        ),
        **_trace_env(span_file),
    }
    web_port, realtime_port = free_port(), free_port()
    with (
        celery_worker(queues=["events.notifications", "events.messaging"], env=env),
        running_server(web_server_command(web_port), port=web_port, env=env) as web,
        running_server(
            realtime_server_command(realtime_port), port=realtime_port, env=env
        ) as realtime,
    ):
        yield web, realtime, span_file


@pytest.mark.django_db(transaction=True)
def test_real_mode_one_request_is_one_trace_across_processes(
    real_processes: tuple[str, str, Path],
) -> None:
    web, realtime, span_file = real_processes
    spans, seen = _the_trace(web, realtime, span_file, shares_database=True)
    _assert_one_connected_trace(spans, seen)
    services = {span["resource"]["attributes"].get("service.name") for span in spans}
    assert len(services) == 1  # one service (the monolith's processes share its name)
