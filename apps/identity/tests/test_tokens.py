"""Access tokens: what is refused and why, key rotation, and verification without identity."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.test import Client
from pytest_django import Settings

from apps.identity.services.keys import access_token_issue
from apps.identity.tests.factories import login, user_create
from cleave.remote.service_tokens import generate_key
from cleave.testing.processes import ROOT, embedded_env, free_port, process_env
from cleave.testing.servers import embedded_server_command, running_server

pytestmark = pytest.mark.django_db(transaction=True)


def _me(token: str | None, header: str | None = None) -> Any:
    headers: dict[str, Any] = {}
    if header is not None:
        headers["HTTP_AUTHORIZATION"] = header
    elif token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return Client().get("/api/v1/me", **headers)


def _code(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def test_a_missing_or_malformed_header_is_token_missing() -> None:
    assert _code(_me(None)) == (401, "token_missing")
    assert _code(_me(None, header="Basic abc")) == (401, "token_missing")


def test_garbage_and_tampered_tokens_are_token_invalid() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    assert _code(_me("not.a.jwt")) == (401, "token_invalid")
    header, payload, signature = signed.access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["roles"] = ["admin"]
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _code(_me(f"{header}.{forged}.{signature}")) == (401, "token_invalid")


def test_a_token_signed_by_another_key_or_without_a_signature_is_refused() -> None:
    user = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    kid = jwt.get_unverified_header(signed.access)["kid"]
    claims = jwt.decode(signed.access, options={"verify_signature": False})
    rogue = jwt.encode(
        claims, Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
    )
    assert _code(_me(rogue)) == (401, "token_invalid")
    # An unsigned token ("alg": "none") takes no key; PyJWT's annotation asks for one.
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": kid})  # type: ignore[arg-type]
    assert _code(_me(unsigned)) == (401, "token_invalid")
    assert user.pk == int(claims["sub"])


def test_an_expired_token_is_token_expired(settings: Settings) -> None:
    user = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    settings.CLEAVE_ACCESS_TOKEN_SECONDS = -10
    token, _ = access_token_issue(user_id=user.pk, session_id=signed.session_id, roles=frozenset())
    assert _code(_me(token)) == (401, "token_expired")


def test_a_remembered_token_still_expires() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    assert _me(signed.access).status_code == 200  # now remembered as verified
    from cleave.auth.tokens import verified

    principal = verified.get(signed.access)
    assert principal is not None
    object.__setattr__(principal, "expires_at", int(time.time()) - 1)
    assert _code(_me(signed.access)) == (401, "token_expired")


def test_rotation_keeps_old_tokens_valid_and_publishes_both_keys(client: Client) -> None:
    user_create(email="ada@example.com")
    before = login("ada@example.com", device_id="a")
    old_kid = jwt.get_unverified_header(before.access)["kid"]
    call_command("identity_keys", "rotate")
    after = login("ada@example.com", device_id="b")
    new_kid = jwt.get_unverified_header(after.access)["kid"]
    assert new_kid != old_kid
    assert _me(before.access).status_code == 200, _me(before.access).json()
    assert _me(after.access).status_code == 200
    jwks = client.get("/.well-known/jwks.json").json()
    assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
    assert all(key["kty"] == "OKP" and "d" not in key for key in jwks["keys"])


def test_a_process_without_identity_verifies_tokens_with_the_jwks(tmp_path: Path) -> None:
    """Another service (no identity app, no shared database) verifies a token by the JWKS alone."""
    port = free_port()
    private, jwk = generate_key("orders")  # it asks identity about sessions with a service token
    server_env = {
        **embedded_env(tmp_path / "identity"),
        "CLEAVE_SERVICE_JWKS": json.dumps({"keys": [jwk]}),
    }
    with running_server(embedded_server_command(port), port=port, env=server_env) as base:
        body = json.dumps(
            {
                "email": "ada@example.com",
                "password": "correct horse battery staple",
                "display_name": "Ada",
                "device": {"device_id": "p", "platform": "ios", "app_version": "1.0"},
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{base}/api/v1/auth/register",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            tokens = json.loads(response.read())["tokens"]
        script = (
            "import django; django.setup()\n"
            "from django.conf import settings\n"
            "from cleave.auth.tokens import verify_access_token\n"
            "assert 'apps.identity' not in settings.INSTALLED_APPS\n"
            "p = verify_access_token(__import__('sys').argv[1])\n"
            "print(p.user_id, p.session_id, sorted(p.roles))\n"
        )
        env = {
            "DJANGO_SETTINGS_MODULE": "cleave.tests.settings",
            "CLEAVE_CONTEXTS": "orders",
            "CLEAVE_JWKS_URL": f"{base}/.well-known/jwks.json",
            "CLEAVE_SESSIONS_URL": base,
            "CLEAVE_SERVICE_KEY": private,
            "CLEAVE_VAR_DIR": str(tmp_path / "other-service"),
            "DATABASE_URL": "",
            "REDIS_URL": "",
        }
        done = subprocess.run(
            [sys.executable, "-c", script, tokens["access"]],
            cwd=ROOT,
            env=process_env(env),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(tokens["user"]["id"]), tokens["session_id"], "['user']"]


def test_tokens_carry_the_sessions_device_so_flags_can_target_it() -> None:
    from cleave.flags.changes import flag_save
    from cleave.flags.definitions import forget_definitions

    user_create(email="ada@example.com")
    signed = login("ada@example.com")  # an iOS device, app 1.4.2 (factories.device)
    claims = jwt.decode(signed.access, options={"verify_signature": False})
    assert claims["dev"] == {"platform": "ios", "app_version": "1.4.2"}
    flag_save(
        name="ios-new",
        changes={"platforms": ["ios"], "min_app_version": "1.4.0", "client_visible": True},
        actor="t",
    )
    forget_definitions()
    flags = (
        Client().get("/api/v1/flags", HTTP_AUTHORIZATION=f"Bearer {signed.access}").json()["flags"]
    )
    assert flags["ios-new"] == {"value": True, "variant": None, "reason": "TARGETING_MATCH"}
