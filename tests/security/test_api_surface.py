"""Issue 16, smaller items: what every answer carries and what the embedded server publishes.

A 404 under /api/ was rebuilt into the envelope after the security middleware ran, so it lost
nosniff, the referrer policy and the rest. The embedded server answered /metrics and
/internal/openapi.json (the private contract surface) to anyone who could reach its port; the
gateway closes both in the split topology, and now the embedded server keeps them to loopback.
"""

from __future__ import annotations

import io
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.test import Client, override_settings

SECURITY_HEADERS = (
    "X-Content-Type-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "X-Request-ID",
)


def _security_headers(response: Any) -> dict[str, str]:
    return {name: response.headers.get(name, "<missing>") for name in SECURITY_HEADERS}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/no-such-thing", "/api/v1/conversations/1/nothing", "/api/nope"]
)
def test_a_404_under_api_carries_the_same_security_headers_as_other_answers(path: str) -> None:
    client = Client()
    reference = _security_headers(client.get("/api/v1/meta"))
    assert "<missing>" not in {k: v for k, v in reference.items() if k != "X-Request-ID"}.values()
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    headers = _security_headers(response)
    assert {k: v for k, v in headers.items() if k != "X-Request-ID"} == {
        k: v for k, v in reference.items() if k != "X-Request-ID"
    }
    assert headers["X-Request-ID"] != "<missing>"


@pytest.mark.django_db
@override_settings(
    SECURE_HSTS_SECONDS=31536000,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
    CLEAVE_TRUSTED_PROXIES=1,
)
def test_a_404_under_api_carries_hsts_on_https() -> None:
    response = Client().get("/api/v1/no-such-thing", HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 404
    assert response.headers.get("Strict-Transport-Security", "").startswith("max-age=31536000")


PRIVATE = ["/internal/openapi.json", "/internal/docs", "/metrics"]


@override_settings(CLEAVE_MODE="embedded")
@pytest.mark.django_db
@pytest.mark.parametrize("path", PRIVATE)
def test_the_embedded_server_keeps_private_paths_from_other_hosts(path: str) -> None:
    response = Client(REMOTE_ADDR="203.0.113.9").get(path)
    assert response.status_code == 404, (path, response.status_code)


@override_settings(CLEAVE_MODE="embedded")
@pytest.mark.django_db
@pytest.mark.parametrize("path", PRIVATE)
@pytest.mark.parametrize("address", ["127.0.0.1", "::1"])
def test_the_embedded_server_still_shows_private_paths_on_loopback(path: str, address: str) -> None:
    response = Client(REMOTE_ADDR=address).get(path)
    assert response.status_code == 200, (path, response.status_code)


@override_settings(CLEAVE_MODE="embedded", CLEAVE_TRUSTED_PROXIES=0)
@pytest.mark.django_db
def test_a_forwarded_loopback_address_does_not_open_private_paths() -> None:
    client = Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert client.get("/internal/openapi.json").status_code == 404


def _wsgi_get(path: str, remote: str) -> str:
    from cleave.wsgi import application

    environ: dict[str, Any] = {"PATH_INFO": path, "REMOTE_ADDR": remote, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    environ["PATH_INFO"], environ["REMOTE_ADDR"] = path, remote
    statuses: list[str] = []
    body = application(environ, lambda status, headers, *_: statuses.append(status))
    b"".join(body)
    return statuses[0]


@override_settings(CLEAVE_MODE="embedded")
@pytest.mark.django_db
def test_the_servers_own_metrics_endpoint_is_kept_to_loopback_in_embedded_mode() -> None:
    # Real servers answer /metrics before Django (cleave.wsgi): the same rule holds there.
    assert _wsgi_get("/metrics", "203.0.113.9").startswith("404")
    assert _wsgi_get("/metrics", "127.0.0.1").startswith("200")


@override_settings(CLEAVE_MODE="real")
@pytest.mark.django_db
def test_real_mode_leaves_private_paths_to_the_gateway() -> None:
    # Prometheus scrapes pods by their address; the gateway never routes these paths.
    assert _wsgi_get("/metrics", "10.1.2.3").startswith("200")
