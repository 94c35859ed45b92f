"""Every error under /api/ answers in one envelope, whichever layer produced it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cleave.tests.envelope_urls")]


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details", "request_id"}
    assert body["error"]["request_id"] == response["X-Request-ID"]
    return body["error"]


def test_unknown_api_path_is_not_found(client: Client) -> None:
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_wrong_method_is_method_not_allowed_with_allow_header(client: Client) -> None:
    response = client.delete("/api/v1/meta")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_malformed_json_is_malformed_json(client: Client) -> None:
    response = client.post("/api/test/echo", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert _error(response)["code"] == "malformed_json"


def test_validation_errors_name_each_field(client: Client) -> None:
    response = client.post(
        "/api/test/echo", data={"name": "x", "count": "many"}, content_type="application/json"
    )
    assert response.status_code == 422
    error = _error(response)
    assert error["code"] == "validation_error"
    assert [item["loc"] for item in error["details"]] == [["body", "payload", "count"]]


def test_a_valid_request_still_succeeds(client: Client) -> None:
    response = client.post(
        "/api/test/echo", data={"name": "x", "count": 2}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json() == {"name": "x", "count": 2}


def test_cleave_errors_keep_their_code_and_details(client: Client) -> None:
    response = client.get("/api/test/conflict")
    assert response.status_code == 409
    assert _error(response) == {
        "code": "conflict",
        "message": "The request conflicts with the current state.",
        "details": {"resource": "thing"},
        "request_id": response["X-Request-ID"],
    }


def test_unhandled_exception_is_a_logged_500_without_internals(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="cleave.errors"):
        response = client.get("/api/test/boom", HTTP_X_REQUEST_ID="req-boom-1")
    assert response.status_code == 500
    error = _error(response)
    assert error["code"] == "internal_error"
    assert (error["request_id"], error["details"]) == ("req-boom-1", None)
    assert "secret internals" not in response.content.decode()
    [record] = [r for r in caplog.records if r.name == "cleave.errors"]
    assert record.__dict__["request_id"] == "req-boom-1"  # set by the logging filter
    assert record.exc_info is not None


def test_validation_errors_carry_the_request_id_beside_their_list_of_details(
    client: Client,
) -> None:
    response = client.post(
        "/api/test/echo",
        data={"name": "x", "count": "many"},
        content_type="application/json",
        HTTP_X_REQUEST_ID="req-422",
    )
    error = _error(response)
    assert (error["request_id"], type(error["details"])) == ("req-422", list)


def test_django_404_and_the_ops_api_errors_carry_the_request_id(client: Client) -> None:
    assert _error(client.get("/api/v1/nowhere", HTTP_X_REQUEST_ID="r-404"))["request_id"] == "r-404"
    ops = client.get("/api/ops/", HTTP_ACCEPT="application/json", HTTP_X_REQUEST_ID="r-ops")
    assert _error(ops)["request_id"] == "r-ops"


def test_request_id_is_echoed_or_generated(client: Client) -> None:
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert len(generated) == 32
    assert "\n" not in generated


def test_ops_api_refuses_anonymous_users_in_the_envelope(client: Client) -> None:
    response = client.get("/api/ops/", HTTP_ACCEPT="application/json")
    assert response.status_code in {401, 403}
    assert _error(response)["code"] in {"unauthorized", "forbidden"}


def test_ops_api_serves_staff(client: Client) -> None:
    staff = get_user_model().objects.create_user("ops@example.com", "pw-ops-123456", is_staff=True)
    client.force_login(staff)
    response = client.get("/api/ops/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["name"] == "cleave-ops"


def test_openapi_document_is_served(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/meta" in response.json()["paths"]


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ConnectionError("Connection refused"),
        redis.exceptions.TimeoutError("Timeout reading"),
        OperationalError("server closed the connection unexpectedly"),
    ],
)
def test_a_dependency_that_is_down_is_a_503_not_a_bug(exc: Exception) -> None:
    from django.test import RequestFactory

    from cleave.gateway.envelope import response_for_exception

    response = response_for_exception(RequestFactory().get("/api/v1/me"), exc)
    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert json.loads(response.content)["error"]["code"] == "service_unavailable"
