"""FCM and APNs providers against local fakes that check requests as the real services do."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.notifications.providers import Push
from apps.notifications.providers.apns import ApnsProvider
from apps.notifications.providers.fcm import FcmProvider
from apps.notifications.tests.fake_push_server import pem_pair, running_fake_push_services

PUSH = Push(title="New message", body="hello", data={"conversation_id": "7"})


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with running_fake_push_services(tmp_path_factory.mktemp("push")) as fakes:
        yield {"base": fakes.base, "folder": fakes.folder, "fakes": fakes}


def _received(base: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{base}/_received", timeout=5) as response:  # noqa: S310 - loopback
        return json.loads(response.read())


def _fcm(services: dict[str, Any]) -> FcmProvider:
    return FcmProvider(
        credentials_path=str(services["folder"] / "service-account.json"), base_url=services["base"]
    )


def _apns(services: dict[str, Any]) -> ApnsProvider:
    return ApnsProvider(
        key_path=str(services["folder"] / "AuthKey.p8"),
        key_id="ABC123DEFG",
        team_id="TEAM123456",
        topic="com.example.cleave",
        base_url=services["base"],
    )


def test_fcm_authenticates_with_the_service_account_and_sends_the_message(
    services: dict[str, Any],
) -> None:
    provider = _fcm(services)
    first = provider.send(platform="android", token="android-token-1", push=PUSH)
    second = provider.send(platform="android", token="android-token-2", push=PUSH)
    assert (first.ok, first.status, second.ok) == (True, 200, True)
    sent = [
        r
        for r in _received(services["base"])
        if r["service"] == "fcm" and r["token"].startswith("android")
    ]
    assert sent[0]["body"]["message"] == {
        "token": "android-token-1",
        "notification": {"title": "New message", "body": "hello"},
        "data": {"conversation_id": "7"},
    }


def test_fcm_reports_an_unregistered_token_as_dead(services: dict[str, Any]) -> None:
    outcome = _fcm(services).send(platform="android", token="dead-token", push=PUSH)
    assert (outcome.ok, outcome.token_invalid, outcome.status) == (False, True, 404)


def test_apns_sends_over_http2_with_a_provider_token(services: dict[str, Any]) -> None:
    outcome = _apns(services).send(platform="ios", token="ios-token-1", push=PUSH)
    assert (outcome.ok, outcome.status) == (True, 200)
    [sent] = [r for r in _received(services["base"]) if r["token"] == "ios-token-1"]
    assert sent["topic"] == "com.example.cleave"
    assert sent["body"]["aps"]["alert"] == {"title": "New message", "body": "hello"}
    assert sent["body"]["conversation_id"] == "7"


def test_apns_reports_an_unregistered_token_as_dead(services: dict[str, Any]) -> None:
    outcome = _apns(services).send(platform="ios", token="dead-token", push=PUSH)
    assert (outcome.ok, outcome.token_invalid, outcome.status) == (False, True, 410)


def test_a_wrong_key_is_refused_by_the_fake_as_by_apple(
    services: dict[str, Any], tmp_path: Path
) -> None:
    other, _ = pem_pair(ec.generate_private_key(ec.SECP256R1()))
    (tmp_path / "other.p8").write_text(other)
    provider = ApnsProvider(
        key_path=str(tmp_path / "other.p8"),
        key_id="ABC123DEFG",
        team_id="TEAM123456",
        topic="com.example.cleave",
        base_url=services["base"],
    )
    outcome = provider.send(platform="ios", token="ios-token-2", push=PUSH)
    assert (outcome.ok, outcome.token_invalid, outcome.status) == (False, False, 403), (
        outcome.response
    )
    assert "InvalidProviderToken" in outcome.response


@pytest.mark.django_db(transaction=True)
def test_the_native_provider_routes_by_platform_and_deactivates_dead_tokens(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    from apps.notifications import providers
    from apps.notifications.models import DeliveryAttempt, Device
    from apps.notifications.services import message_notify

    for name, value in services["fakes"].provider_env.items():
        if name != "CLEAVE_PUSH_PROVIDER":  # a setting, set below
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(providers, "_native_provider", None)
    settings.CLEAVE_PUSH_PROVIDER = "native"
    Device.objects.create(user_id=2, device_id="iphone", platform="ios", push_token="ios-live")
    Device.objects.create(user_id=2, device_id="pixel", platform="android", push_token="dead-token")

    message_notify(conversation_id=7, sender_id=1, recipient_ids=[2], preview="hi there", seq=1)

    attempts = {
        a.device.device_id: (a.provider, a.ok, a.status) for a in DeliveryAttempt.objects.all()
    }
    assert attempts == {"iphone": ("native", True, 200), "pixel": ("native", False, 404)}
    assert dict(Device.objects.values_list("device_id", "token_valid")) == {
        "iphone": True,
        "pixel": False,
    }
    assert any(
        r["token"] == "ios-live" and r["body"]["aps"]["alert"]["body"] == "hi there"
        for r in _received(services["base"])
    )
