"""Across contexts, in process: a message sent through messaging's API becomes an inbox item and
one push per burst for the offline recipient, through the event bus alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client, override_settings

from apps.notifications.tests.fakes import RecordingProvider

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def _bus_in_process() -> Iterator[None]:
    RecordingProvider.sent.clear()
    with override_settings(
        CLEAVE_EVENTS_INPROCESS=True,
        CLEAVE_PUSH_PROVIDER="apps.notifications.tests.fakes.RecordingProvider",
    ):
        yield


def _register(email: str, token: str) -> dict[str, Any]:
    device = {
        "device_id": "phone",
        "platform": "android",
        "app_version": "2.0",
        "push_token": token,
    }
    body = {"email": email, "password": PASSWORD, "display_name": email[:3], "device": device}
    response = Client().post("/api/v1/auth/register", body, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["tokens"]


def test_an_offline_recipient_gets_one_push_for_a_burst_of_messages() -> None:
    ada, bob = _register("ada@example.com", "fcm-ada"), _register("bob@example.com", "fcm-bob")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ada['access']}"}
    client = Client()
    created = client.post(
        "/api/v1/conversations",
        {"kind": "direct", "members": [bob["user"]["id"]]},
        content_type="application/json",
        **auth,
    )
    assert created.status_code == 201, created.content
    conversation = created.json()
    for n in range(5):
        client.post(
            f"/api/v1/conversations/{conversation['id']}/messages",
            {"text": f"message {n}", "client_msg_id": f"c{n}"},
            content_type="application/json",
            **auth,
        )
    assert [(token, push.body) for _, token, push in RecordingProvider.sent] == [
        ("fcm-bob", "message 0")
    ]
    badge = Client().get(
        "/api/v1/notifications/badge", HTTP_AUTHORIZATION=f"Bearer {bob['access']}"
    )
    assert badge.json() == {"unread": 5}
