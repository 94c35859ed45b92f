"""Revocations survive what empties the cache (issue 16, finding 3): a restart of the embedded
server (its cache is process memory) and a flushed Redis in real mode (eviction, failover).

Before, the revocation list lived only in the cache: after either, tokens of signed-out,
replaced and theft-revoked sessions worked again until they expired. A cache miss now asks
identity's session rows, so each of those tokens is refused over HTTP and on the socket.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from cleave.testing.processes import embedded_env, free_port
from cleave.testing.servers import (
    embedded_server_command,
    realtime_server_command,
    running_server,
    web_server_command,
)
from tests.e2e.test_realtime import PASSWORD, closed_with, http, signed_in, socket_for, ws_url

DEVICE = {"device_id": "phone", "platform": "ios", "app_version": "1.0"}


def _status(base: str, token: str) -> tuple[int, str | None]:
    try:
        http(base, "GET", "/api/v1/me", token=token)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]["code"]
    return 200, None


def _socket_refused(base: str, token: str) -> tuple[int | None, str]:
    from websockets.sync.client import connect

    with connect(ws_url(base), additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        code, frames = closed_with(socket)
    return code, frames[-1]["error"]["code"] if frames else ""


def _revoked_tokens(base: str) -> tuple[dict[str, str], str]:
    """Tokens of a signed-out, a replaced and a theft-revoked session, and a live one."""
    signed_out = signed_in(base)
    http(base, "POST", "/api/v1/auth/logout", token=signed_out["access"])

    replaced = signed_in(base)
    email = http(base, "GET", "/api/v1/me", token=replaced["access"])["email"]
    login = {"email": email, "password": PASSWORD, "device": DEVICE}
    live = http(base, "POST", "/api/v1/auth/login", login)  # same device: replaces the session

    stolen = signed_in(base)
    http(base, "POST", "/api/v1/auth/refresh", {"refresh": stolen["refresh"]})
    with pytest.raises(urllib.error.HTTPError):  # used twice: theft, the session is revoked
        http(base, "POST", "/api/v1/auth/refresh", {"refresh": stolen["refresh"]})
    revoked = {
        "signed_out": signed_out["access"],
        "replaced": replaced["access"],
        "stolen": stolen["access"],
    }
    for token in revoked.values():
        assert _status(base, token) == (401, "session_revoked")  # before the cache is lost
    return revoked, live["access"]


def _assert_refused(base: str, sockets_at: str, revoked: dict[str, str], live: str) -> None:
    """Each revoked token is refused over HTTP (at `base`) and on a socket (at `sockets_at`);
    the live one still works on both."""
    refused = {name: _status(base, token) for name, token in revoked.items()}
    assert refused == dict.fromkeys(revoked, (401, "session_revoked"))
    sockets = {name: _socket_refused(sockets_at, token) for name, token in revoked.items()}
    assert sockets == dict.fromkeys(revoked, (4401, "session_revoked"))
    assert _status(base, live) == (200, None)
    with socket_for(sockets_at, live):
        pass


def test_revoked_tokens_stay_refused_after_the_embedded_server_restarts(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    port = free_port()
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        revoked, live = _revoked_tokens(base)
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        _assert_refused(base, base, revoked, live)


@pytest.fixture
def private_redis_stack(django_db_setup: None, django_db_blocker: object) -> Iterator[Any]:
    """A `web` and a `realtime` process on the test database and a Redis of their own (the
    shared one is never flushed)."""
    from tests.faults.stores import redis_server

    database = settings.CONFIG.database
    name = settings.DATABASES["default"]["NAME"]
    with redis_server() as redis:
        env = {
            "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{name}",
            "REDIS_URL": redis.url(),
        }
        web_port, realtime_port = free_port(), free_port()
        with (
            running_server(web_server_command(web_port), port=web_port, env=env) as web,
            running_server(
                realtime_server_command(realtime_port), port=realtime_port, env=env
            ) as realtime,
        ):
            yield web, realtime, redis


@pytest.mark.skipif(settings.CONFIG.embedded, reason="real mode only: needs Redis")
@pytest.mark.django_db(transaction=True)
def test_revoked_tokens_stay_refused_after_redis_is_flushed(private_redis_stack: Any) -> None:
    web, realtime, redis = private_redis_stack
    revoked, live = _revoked_tokens(web)
    redis.client().flushall()  # the stack's own Redis: eviction, failover, a flush
    _assert_refused(web, realtime, revoked, live)


_VERIFY_SCRIPT = """
import sys, django
django.setup()
from django.conf import settings
from cleave.auth.tokens import verify_access_token
from cleave.errors import CleaveError
assert "apps.identity" not in settings.INSTALLED_APPS
for token in sys.argv[1:]:
    try:
        print(verify_access_token(token).user_id)
    except CleaveError as error:
        print(error.code, error.status)
"""


def _verify_elsewhere(tmp_path: Path, tokens: list[str], **env: str) -> list[str]:
    """Verify `tokens` in a fresh process of a service without identity (split mode)."""
    import subprocess
    import sys

    from cleave.testing.processes import ROOT, process_env

    done = subprocess.run(
        [sys.executable, "-c", _VERIFY_SCRIPT, *tokens],
        cwd=ROOT,
        env=process_env(
            {
                "DJANGO_SETTINGS_MODULE": "cleave.tests.settings",
                "CLEAVE_CONTEXTS": "orders",
                "CLEAVE_VAR_DIR": str(tmp_path / "other-service"),
                "DATABASE_URL": "",
                "REDIS_URL": "",
                **env,
            }
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\n")[:-1]


def test_a_service_without_identity_asks_identity_and_fails_closed(tmp_path: Path) -> None:
    from cleave.remote.service_tokens import generate_key

    private, jwk = generate_key("orders")
    env = {
        **embedded_env(tmp_path / "identity"),
        "CLEAVE_SERVICE_JWKS": json.dumps({"keys": [jwk]}),
    }
    port = free_port()
    with running_server(embedded_server_command(port), port=port, env=env) as base:
        live, signed_out = signed_in(base), signed_in(base)
        http(base, "POST", "/api/v1/auth/logout", token=signed_out["access"])
        # A fresh process: nothing cached, every answer comes from identity's session rows.
        caller = {
            "CLEAVE_JWKS_URL": f"{base}/.well-known/jwks.json",
            "CLEAVE_SESSIONS_URL": base,
            "CLEAVE_SERVICE_KEY": private,
        }
        answers = _verify_elsewhere(tmp_path, [live["access"], signed_out["access"]], **caller)
        assert answers == [str(live["user"]["id"]), "session_revoked 401"]
        # Identity unreachable: the keys are cached no longer than the process, so the JWKS
        # comes from identity, and the sessions URL points nowhere.
        nowhere = {**caller, "CLEAVE_SESSIONS_URL": f"http://127.0.0.1:{free_port()}"}
        assert _verify_elsewhere(tmp_path, [live["access"]], **nowhere) == [
            "revocation_unknown 503"
        ]
