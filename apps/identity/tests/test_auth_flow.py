"""A mobile client's session life-cycle: register, log in, refresh, sign out."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.identity.models import Device, Session
from apps.identity.tests.factories import PASSWORD, device, login, user_create
from cleave.events import captured_events
from contracts.identity import DeviceRegistered, PushTokenChanged, SessionRevoked, UserRegistered

pytestmark = pytest.mark.django_db(transaction=True)


def _post(client: Client, path: str, body: dict) -> Any:
    return client.post(path, body, content_type="application/json")


def test_register_with_a_device_returns_tokens_and_publishes_events(client: Client) -> None:
    with captured_events() as events:
        response = _post(
            client,
            "/api/v1/auth/register",
            {
                "email": "Ada@Example.com",
                "password": PASSWORD,
                "display_name": "Ada",
                "device": device(push_token="apns-1"),
            },
        )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["user"]["email"] == "ada@example.com"
    assert body["user"]["roles"] == ["user"]
    assert body["tokens"]["expires_in"] == 900
    assert [type(e) for e in events] == [UserRegistered, DeviceRegistered, PushTokenChanged]
    me = client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {body['tokens']['access']}")
    assert me.json()["display_name"] == "Ada"


def test_register_refuses_a_taken_email_and_a_weak_password(client: Client) -> None:
    user_create(email="taken@example.com")
    taken = _post(
        client,
        "/api/v1/auth/register",
        {"email": "TAKEN@example.com", "password": PASSWORD, "display_name": "X"},
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "email_taken"
    weak = _post(
        client,
        "/api/v1/auth/register",
        {"email": "new@example.com", "password": "123", "display_name": "X"},
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["code"] == "weak_password"


def test_login_answers_with_tokens_bound_to_the_device_session() -> None:
    user = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    session = Session.objects.get(pk=signed.session_id)
    assert session.user == user
    assert session.device.device_id == "phone-1"
    me = signed.get("/api/v1/me")
    assert me.status_code == 200
    assert me.json() == {
        "id": user.pk,
        "email": "ada@example.com",
        "display_name": "Ada",
        "locale": "en",
        "timezone": "UTC",
        "roles": ["user"],
        "email_verified": False,
    }


def test_logging_in_again_on_the_same_device_replaces_its_session() -> None:
    user_create(email="ada@example.com")
    first = login("ada@example.com")
    second = login("ada@example.com")
    assert first.session_id != second.session_id
    assert first.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    assert Session.objects.filter(revoked_at__isnull=True).count() == 1
    assert Device.objects.count() == 1


def test_refresh_rotates_the_refresh_token() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    response = _post(signed.client, "/api/v1/auth/refresh", {"refresh": signed.refresh})
    assert response.status_code == 200
    rotated = response.json()
    assert rotated["refresh"] != signed.refresh
    assert rotated["session_id"] == signed.session_id
    again = _post(signed.client, "/api/v1/auth/refresh", {"refresh": rotated["refresh"]})
    assert again.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    fresh = _post(signed.client, "/api/v1/auth/refresh", {"refresh": signed.refresh}).json()

    with captured_events() as events:
        stolen = _post(signed.client, "/api/v1/auth/refresh", {"refresh": signed.refresh})
    assert stolen.status_code == 401
    assert stolen.json()["error"]["code"] == "refresh_reused"
    assert [e.reason for e in events if isinstance(e, SessionRevoked)] == ["refresh_reused"]
    assert "possible theft" in caplog.text
    # The legitimate holder's newest tokens die with the session.
    after = _post(signed.client, "/api/v1/auth/refresh", {"refresh": fresh["refresh"]})
    assert after.json()["error"]["code"] == "session_revoked"
    me = signed.client.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {fresh['access']}")
    assert me.json()["error"]["code"] == "session_revoked"


def test_an_unknown_refresh_token_is_refused(client: Client) -> None:
    response = _post(client, "/api/v1/auth/refresh", {"refresh": "not-a-token"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "refresh_invalid"


def test_logout_refuses_the_access_token_at_once() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    assert signed.get("/api/v1/me").status_code == 200
    assert signed.send("post", "/api/v1/auth/logout").status_code == 204
    response = signed.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "session_revoked"
    refresh = _post(signed.client, "/api/v1/auth/refresh", {"refresh": signed.refresh})
    assert refresh.json()["error"]["code"] == "session_revoked"


def test_push_token_update_publishes_the_change() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = signed.send("put", "/api/v1/devices/current/push-token", {"push_token": "fcm-9"})
        signed.send("put", "/api/v1/devices/current/push-token", {"push_token": "fcm-9"})
    assert response.status_code == 200
    (changed,) = events
    assert isinstance(changed, PushTokenChanged)
    assert (changed.device_id, changed.push_token) == ("phone-1", "fcm-9")
    assert Device.objects.get().push_token == "fcm-9"
