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


def test_nul_characters_are_refused_before_they_reach_the_database(
    client: Any, admin_client: Any
) -> None:
    # PostgreSQL cannot store NUL in text: found by the ops fuzz as a 500 in real mode.
    body = {
        "email": "nul@example.com",
        "password": "correct horse battery",
        "display_name": "a\x00b",
    }
    response = client.post("/api/v1/auth/register", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", "display_name"]
    refused = admin_client.put("/api/ops/flags/bad%00name/", {}, content_type="application/json")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "validation_error")
