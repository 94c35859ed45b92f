"""The app's `traceparent` is honoured with no trace exporter configured: its trace id is on
every log line of the request (and the access log line), and a bad one is ignored."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from django.conf import settings
from django.test import Client, override_settings
from pythonjsonlogger.json import JsonFormatter

from cleave.gateway.redaction import RedactSecretsFilter
from cleave.gateway.request_id import RequestIdLogFilter
from cleave.logging_config import build_logging
from cleave.observability import traceparent
from cleave.observability.tracing import TraceLogFilter, inject

pytestmark = [pytest.mark.django_db, pytest.mark.urls("cleave.tests.envelope_urls")]

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
INCOMING = f"00-{TRACE_ID}-b7ad6b7169203331-01"
ACCESS_LOG = "cleave.observability.access_log.AccessLogMiddleware"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """The real-mode log pipeline (filters and JSON formatter) on the root logger."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    for log_filter in (RequestIdLogFilter(), TraceLogFilter(), RedactSecretsFilter()):
        handler.addFilter(log_filter)
    spec = build_logging(fmt="json", level="INFO")["formatters"]["cleave"]
    handler.setFormatter(JsonFormatter(spec["format"], rename_fields=spec["rename_fields"]))
    root = logging.getLogger()
    root.addHandler(handler)
    access = logging.getLogger("cleave.access")
    level = access.level
    access.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        access.setLevel(level)


def _lines(out: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line]


@pytest.mark.parametrize(
    "raw",
    [
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero parent
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # forbidden version
        "00-0af7651916cd43dd-b7ad6b7169203331-01",  # short
        'x", "level": "forged',
        "",
    ],
)
def test_a_malformed_traceparent_is_ignored(raw: str) -> None:
    assert traceparent.valid(raw) is None


def test_outside_a_request_there_is_no_trace_to_pass_on() -> None:
    assert (traceparent.trace_id(), inject()) == (None, {})


def test_every_log_line_of_the_request_carries_the_apps_trace_id(
    client: Client, json_lines: io.StringIO
) -> None:
    response = client.get("/api/test/boom", HTTP_TRACEPARENT=INCOMING, HTTP_X_REQUEST_ID="r-t1")
    assert response.status_code == 500
    [line] = [line for line in _lines(json_lines) if line["logger"] == "cleave.errors"]
    assert (line["trace_id"], line["request_id"]) == (TRACE_ID, "r-t1")
    assert traceparent.trace_id() is None  # and it does not outlive the request


def test_the_access_log_is_one_json_line_per_request_with_what_support_searches_by(
    json_lines: io.StringIO,
) -> None:
    stack = list(settings.MIDDLEWARE)
    if ACCESS_LOG not in stack:  # on by default in real mode only
        stack.insert(stack.index("cleave.gateway.request_id.RequestIdMiddleware") + 1, ACCESS_LOG)
    with override_settings(MIDDLEWARE=stack):
        Client().post(
            "/api/test/echo",
            data={"name": "x", "count": 1},
            content_type="application/json",
            HTTP_TRACEPARENT=INCOMING,
            HTTP_X_REQUEST_ID="r-access",
            HTTP_X_CLIENT_VERSION="ios/2.4.1",
        )
    [line] = [line for line in _lines(json_lines) if line["logger"] == "cleave.access"]
    assert line["http_method"] == "POST"
    assert line["route"] == "api/test/echo"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert (line["request_id"], line["trace_id"]) == ("r-access", TRACE_ID)
    assert (line["user_id"], line["app_version"]) == (None, "ios/2.4.1")


def test_the_access_log_names_the_authenticated_user() -> None:
    from django.test import RequestFactory

    from cleave.auth.principal import Principal
    from cleave.observability.access_log import user_id_of

    request = RequestFactory().get("/api/v1/me")
    assert user_id_of(request) is None
    request.principal = Principal(  # type: ignore[attr-defined]  # as BearerAuth sets it
        user_id=7, session_id="s", roles=frozenset({"user"}), expires_at=2**40
    )
    assert user_id_of(request) == 7
