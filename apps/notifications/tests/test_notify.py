"""Notifications learn devices from events, push once per burst, keep an inbox."""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as settings_module
from django.db import transaction
from django.test import Client
from django.utils import timezone

from apps.notifications.models import Burst, DeliveryAttempt, Device, InboxItem
from apps.notifications.subscribers import (
    on_device_registered,
    on_invitation_sent,
    on_message_sent,
    on_push_token_changed,
    on_user_deleted,
    on_user_updated,
)
from apps.notifications.tests.fakes import RecordingProvider
from cleave.auth.testing import token_signer
from cleave.realtime.presence import presence
from contracts.identity import DeviceRegistered, PushTokenChanged, UserDeleted, UserUpdated
from contracts.messaging import InvitationSent, MessageSent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def recording(settings: Any) -> Iterator[list[Any]]:
    settings.CLEAVE_PUSH_PROVIDER = "apps.notifications.tests.fakes.RecordingProvider"
    RecordingProvider.sent.clear()
    _nobody_online()
    yield RecordingProvider.sent
    _nobody_online()


def _nobody_online() -> None:
    presence._memory.clear()  # embedded mode's presence
    if settings_module.CONFIG.redis_url:
        import redis

        client = redis.Redis.from_url(settings_module.CONFIG.redis_url)
        for key in client.scan_iter(match="cleave:rt:presence:*"):
            client.delete(key)


def _apply(handler: Any, event: Any) -> None:
    with transaction.atomic():  # subscribers run in the bus's transaction
        handler(event)


def _phone(user_id: int, token: str = "fcm-token-1") -> None:
    _apply(
        on_device_registered,
        DeviceRegistered(
            aggregate_id=str(user_id),
            user_id=user_id,
            device_id="phone",
            platform="android",
            app_version="1.0",
        ),
    )
    _apply(
        on_push_token_changed,
        PushTokenChanged(
            aggregate_id=str(user_id),
            user_id=user_id,
            device_id="phone",
            platform="android",
            push_token=token,
        ),
    )


def _message(seq: int, recipients: tuple[int, ...] = (2,), text: str = "hello") -> None:
    _apply(
        on_message_sent,
        MessageSent(
            aggregate_id="7",
            conversation_id=7,
            message_id=seq,
            seq=seq,
            sender_id=1,
            recipient_ids=list(recipients),
            preview=text,
        ),
    )


def test_devices_and_tokens_come_from_identity_events() -> None:
    _phone(2, "fcm-abc")
    device = Device.objects.get()
    assert (device.user_id, device.platform, device.push_token, device.token_valid) == (
        2,
        "android",
        "fcm-abc",
        True,
    )


def test_an_offline_recipient_gets_one_push_per_burst_then_a_count(recording: list[Any]) -> None:
    _phone(2)
    for seq in (1, 2, 3):
        _message(seq, text=f"m{seq}")
    assert [push.body for _, _, push in recording] == ["m1"]
    assert InboxItem.objects.filter(user_id=2).count() == 3
    Burst.objects.update(window_started_at=timezone.now() - datetime.timedelta(minutes=5))
    _message(4, text="m4")
    assert [push.body for _, _, push in recording] == ["m1", "3 new messages"]
    assert DeliveryAttempt.objects.filter(ok=True).count() == 2


def test_a_connected_recipient_gets_the_inbox_item_but_no_push(recording: list[Any]) -> None:
    _phone(2)
    # User 2 has a socket open (the presence entry a connecting socket writes, in either mode).
    async_to_sync(presence._set)(2, "socket-1", time.time() + 60)
    _message(1)
    assert recording == []
    assert InboxItem.objects.filter(user_id=2).count() == 1


def test_mutes_and_quiet_hours_silence_pushes(recording: list[Any], settings: Any) -> None:
    _phone(2)
    _phone(3, "fcm-3")
    from apps.notifications.services import preferences_update

    preferences_update(user_id=2, quiet_hours=None, mute=[7], unmute=[])
    _apply(
        on_user_updated,
        UserUpdated(
            aggregate_id="3",
            user_id=3,
            display_name="C",
            locale="en",
            timezone="Pacific/Kiritimati",
        ),
    )
    now_there = timezone.now().astimezone(datetime.timezone(datetime.timedelta(hours=14)))
    start = (now_there - datetime.timedelta(hours=1)).time()
    end = (now_there + datetime.timedelta(hours=1)).time()
    preferences_update(user_id=3, quiet_hours=(start, end), mute=[], unmute=[])
    _message(1, recipients=(2, 3))
    assert recording == []


def test_a_refused_token_is_deactivated(settings: Any, recording: list[Any]) -> None:
    settings.CLEAVE_PUSH_PROVIDER = "apps.notifications.tests.fakes.RefusingProvider"
    _phone(2)
    _message(1)
    assert Device.objects.get().token_valid is False
    attempt = DeliveryAttempt.objects.get()
    assert (attempt.ok, attempt.status, attempt.provider) == (False, 404, "refusing")
    Burst.objects.update(window_started_at=timezone.now() - datetime.timedelta(minutes=5))
    _message(2)
    assert len(recording) == 1  # never tried again


def test_an_invitation_reaches_the_inbox_and_an_offline_invitee_s_phone(
    recording: list[Any],
) -> None:
    _phone(2)
    invited = InvitationSent(
        aggregate_id="7", invitation_id=5, conversation_id=7, user_id=2, invited_by=1, title="Band"
    )
    _apply(on_invitation_sent, invited)
    item = InboxItem.objects.get()
    assert (item.user_id, item.kind, item.data["invitation_id"]) == (2, "invitation", 5)
    assert item.body.endswith("invited you to Band")
    assert len(recording) == 1


def test_a_deleted_account_is_forgotten() -> None:
    _phone(2)
    _message(1)
    _apply(on_user_deleted, UserDeleted(aggregate_id="2", user_id=2))
    assert not Device.objects.exists()
    assert not InboxItem.objects.exists()


def test_the_inbox_api_lists_counts_and_marks_read() -> None:
    _message(1)
    _message(2)
    _message(3, recipients=(9,))
    with token_signer() as sign:
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {sign(user_id=2)}"}
        client = Client()
        page = client.get("/api/v1/notifications?limit=1", **auth).json()
        assert len(page["items"]) == 1
        assert page["items"][0]["data"] == {"conversation_id": 7, "seq": 2, "sender_id": 1}
        assert client.get("/api/v1/notifications/badge", **auth).json() == {"unread": 2}
        first = page["items"][0]["id"]
        assert client.post(f"/api/v1/notifications/{first}/read", **auth).json() == {"unread": 1}
        others = InboxItem.objects.get(user_id=9).pk
        assert client.post(f"/api/v1/notifications/{others}/read", **auth).status_code == 404
        assert client.post("/api/v1/notifications/read-all", **auth).json() == {"unread": 0}
        prefs = client.patch(
            "/api/v1/notifications/preferences",
            {"quiet_start": "22:00:00", "quiet_end": "07:00:00", "mute": [7]},
            content_type="application/json",
            **auth,
        ).json()
    assert prefs == {
        "timezone": "UTC",
        "quiet_start": "22:00:00",
        "quiet_end": "07:00:00",
        "muted_conversations": [7],
    }


def test_quiet_hours_are_local_times_and_ids_are_bounded() -> None:
    with token_signer() as sign:
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {sign(user_id=2)}"}
        with_offset = Client().patch(
            "/api/v1/notifications/preferences",
            {"quiet_start": "22:00:00+02:00"},
            content_type="application/json",
            **auth,
        )
        huge = Client().patch(
            "/api/v1/notifications/preferences",
            {"mute": [2**70]},
            content_type="application/json",
            **auth,
        )
    assert (with_offset.status_code, with_offset.json()["error"]["code"]) == (
        422,
        "validation_error",
    )
    assert huge.status_code == 422
