"""Security headers on every response; CORS only for origins an operator lists."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db

APP = "https://app.example.com"


def test_api_responses_carry_the_security_headers(client: Any) -> None:
    response = client.get("/api/v1/meta")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"


def test_the_admin_cannot_be_framed(client: Any) -> None:
    assert client.get("/admin/login/")["X-Frame-Options"] == "DENY"


def test_no_cross_origin_access_unless_an_origin_is_listed(client: Any) -> None:
    response = client.options(
        "/api/v1/meta", HTTP_ORIGIN=APP, HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=[APP])
def test_a_listed_origin_may_call_the_api_and_read_its_headers(client: Any) -> None:
    preflight = client.options(
        "/api/v1/meta",
        HTTP_ORIGIN=APP,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert preflight["Access-Control-Allow-Origin"] == APP
    assert "authorization" in preflight["Access-Control-Allow-Headers"]
    response = client.get("/api/v1/meta", HTTP_ORIGIN=APP)
    assert "X-Request-ID" in response["Access-Control-Expose-Headers"]
    # Only the mobile API: the admin and ops API stay same-origin.
    assert "Access-Control-Allow-Origin" not in client.get("/admin/login/", HTTP_ORIGIN=APP)
    other = client.get("/api/v1/meta", HTTP_ORIGIN="https://evil.example")
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.skipif(settings.CONFIG.embedded or settings.DEBUG, reason="real mode, DEBUG off")
def test_real_mode_sends_hsts_over_https_and_secure_cookies(client: Any) -> None:
    response = client.get("/api/v1/meta", HTTP_X_FORWARDED_PROTO="https")
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert (settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE) == (True, True)
    assert "Strict-Transport-Security" not in client.get("/api/v1/meta")  # not on plain HTTP
