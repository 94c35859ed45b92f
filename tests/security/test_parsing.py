"""Issue 16, smaller items: how JSON bodies are read.

Non-JSON content types are refused with 415 (a browser form or `text/plain` body is the classic
cross-site request), duplicate keys are refused (two parsers could read two different bodies),
booleans are no ids or integers (`{"members": [true]}` became user 1 under pydantic's lax
mode), `malformed_json` says where, never the interpreter's own words, and the message page's
`limit` stops at the documented 100.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from django.test import Client

from apps.identity.models import User

PASSWORD = "correct horse battery staple"
LOGIN = {
    "email": "parser@example.com",
    "password": PASSWORD,
    "device": {"device_id": "parser-1", "platform": "ios", "app_version": "1.0"},
}
_addresses = itertools.count(1)


def _post(path: str, body: bytes | str, content_type: str | None, **extra: Any) -> Any:
    client = Client(REMOTE_ADDR=f"10.9.0.{next(_addresses) % 250 + 1}")
    if content_type is None:
        # Django's client always sends a type; call the handler with none at all.
        return client.generic("POST", path, body, **extra)
    return client.post(path, body, content_type=content_type, **extra)


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


@pytest.fixture
def bearer(db: None) -> dict[str, str]:
    User.objects.create_user(LOGIN["email"], PASSWORD, display_name="Parser")
    response = _post("/api/v1/auth/login", json.dumps(LOGIN), "application/json")
    assert response.status_code == 200, response.content
    return {"HTTP_AUTHORIZATION": f"Bearer {response.json()['access']}"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", "text/json", None],
)
def test_a_json_endpoint_refuses_other_content_types_with_415(content_type: str | None) -> None:
    response = _post("/api/v1/auth/login", json.dumps(LOGIN), content_type)
    assert response.status_code == 415, response.content
    assert _code(response) == "unsupported_media_type"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "APPLICATION/JSON"]
)
def test_json_content_types_are_accepted(content_type: str) -> None:
    response = _post("/api/v1/auth/login", json.dumps(LOGIN), content_type)
    assert response.status_code == 401, response.content  # parsed; no such account
    assert _code(response) != "unsupported_media_type"


@pytest.mark.django_db
def test_duplicate_keys_are_refused() -> None:
    body = '{"email": "a@example.com", "email": "b@example.com", "password": "x", "device": {}}'
    response = _post("/api/v1/auth/login", body, "application/json")
    assert response.status_code == 400, response.content
    assert _code(response) == "malformed_json"
    assert response.json()["error"]["details"] == {"reason": "duplicate key", "key": "email"}


@pytest.mark.django_db
def test_duplicate_keys_in_nested_objects_are_refused() -> None:
    body = json.dumps(LOGIN)[:-1] + ', "device": {"device_id": "a", "device_id": "b"}}'
    response = _post("/api/v1/auth/login", body, "application/json")
    assert response.status_code == 400, response.content
    assert _code(response) == "malformed_json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe{}", b"[" * 100_000, b'{"email": tru', b"{'single': 1}"],
    ids=["not-utf8", "deep", "truncated", "python-literal"],
)
def test_malformed_json_does_not_echo_interpreter_internals(body: bytes) -> None:
    response = _post("/api/v1/auth/login", body, "application/json")
    assert response.status_code == 400, response.content
    assert _code(response) == "malformed_json"
    reason = response.json()["error"]["details"]["reason"]
    for internal in ("codec", "utf-8'", "recursion", "Error", "position", "char ", "'"):
        assert internal not in reason, reason


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/conversations", {"kind": "group", "members": [True]}),
        ("post", "/api/v1/conversations", {"kind": "direct", "members": [1.0]}),
        ("post", "/api/v1/conversations/1/members", {"user_id": True}),
        ("post", "/api/v1/conversations/1/read", {"seq": True}),
        ("patch", "/api/v1/notifications/preferences", {"mute": [True]}),
        ("patch", "/api/v1/notifications/preferences", {"unmute": [False]}),
    ],
)
def test_booleans_are_not_ids_or_integers(
    bearer: dict[str, str], method: str, path: str, body: dict[str, Any]
) -> None:
    client = Client()
    response = getattr(client, method)(
        path, json.dumps(body), content_type="application/json", **bearer
    )
    assert response.status_code == 422, response.content
    assert _code(response) == "validation_error"


def test_ids_in_paths_still_parse_from_their_text(bearer: dict[str, str]) -> None:
    response = Client().get("/api/v1/conversations/12345", **bearer)
    assert response.status_code == 404, response.content
    assert _code(response) == "conversation_not_found"


@pytest.mark.parametrize(("limit", "status"), [(100, 404), (101, 422), (200, 422)])
def test_the_message_page_limit_stops_at_the_documented_100(
    bearer: dict[str, str], limit: int, status: int
) -> None:
    response = Client().get(f"/api/v1/conversations/12345/messages?limit={limit}", **bearer)
    assert response.status_code == status, response.content


@pytest.mark.django_db
def test_the_ops_api_refuses_duplicate_keys_without_interpreter_internals() -> None:
    admin = User.objects.create_superuser("root@example.com", PASSWORD, display_name="Root")
    client = Client()
    client.force_login(admin)
    body = '{"everyone": true, "everyone": false}'
    response = client.put("/api/ops/flags/parse-probe/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "malformed_json"
    assert "duplicate key" in error["message"]
    broken = client.put("/api/ops/flags/parse-probe/", "{'a'", content_type="application/json")
    assert broken.status_code == 400, broken.content
    assert "char " not in broken.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"user_ids": [True]}, {"percent": True}])
def test_the_ops_api_refuses_booleans_for_integers_too(body: dict[str, Any]) -> None:
    admin = User.objects.create_superuser("root2@example.com", PASSWORD, display_name="Root")
    client = Client()
    client.force_login(admin)
    response = client.put(
        "/api/ops/flags/bool-probe/", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 422, response.content
    assert _code(response) == "validation_error"
