"""One error envelope under /api/, whatever failed, and a request id on every response."""

from __future__ import annotations

import uuid

from client import Api, User, error_of, expect


def test_meta_says_where_the_socket_is(api: Api) -> None:
    meta = expect(api.get("/api/v1/meta"), 200)
    assert meta["name"] == "cleave"
    assert meta["api_version"] == "v1"
    assert meta["websocket_url"].startswith(("ws://", "wss://"))


def test_an_unknown_route_answers_not_found_in_the_envelope(api: Api) -> None:
    response = api.get(f"/api/v1/no-such-thing-{uuid.uuid4().hex[:8]}")

    error = error_of(response, 404)

    assert (error["code"], error["details"]) == ("not_found", None)


def test_a_wrong_method_answers_method_not_allowed_with_allow(api: Api) -> None:
    response = api.request("DELETE", "/api/v1/meta")

    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]


def test_a_malformed_body_answers_malformed_json(api: Api, bob: User) -> None:
    response = api.as_(bob).request("PATCH", "/api/v1/me", content=b'{"display_name": ')

    error = error_of(response, 400)

    assert error["code"] == "malformed_json"


def test_an_unknown_field_is_a_validation_error_naming_it(api: Api, bob: User) -> None:
    response = api.as_(bob).patch("/api/v1/me", {"display_name": "Bob", "shoe_size": 44})

    error = error_of(response, 422)

    assert error["code"] == "validation_error"
    assert [(d["loc"][-1], d["type"]) for d in error["details"]] == [
        ("shoe_size", "extra_forbidden")
    ]


def test_a_safe_request_id_is_echoed_and_an_unsafe_one_replaced(api: Api) -> None:
    mine = f"e2e-{uuid.uuid4().hex}"
    assert api.get("/api/v1/meta", headers={"X-Request-ID": mine}).headers["X-Request-ID"] == mine

    replaced = api.get("/api/v1/meta", headers={"X-Request-ID": "no spaces allowed"})

    assert replaced.headers["X-Request-ID"] not in {"", "no spaces allowed"}
