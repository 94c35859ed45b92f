"""notifications' admin only shows: its rows come from events and the users' own calls, so
none is added, edited or deleted by hand (issue 18)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.notifications.models import DeliveryAttempt, Device, InboxItem
from apps.notifications.services import device_upsert, message_notify
from cleave.realtime.presence import presence

pytestmark = pytest.mark.django_db(transaction=True)


def test_devices_inbox_items_and_attempts_are_shown_but_never_written_by_hand(
    admin_client: Client, settings: Any
) -> None:
    settings.CLEAVE_PUSH_PROVIDER = "apps.notifications.tests.fakes.RecordingProvider"
    presence._memory.clear()
    device_upsert(user_id=2, device_id="phone", platform="android", push_token="fcm-2")
    message_notify(conversation_id=7, sender_id=1, recipient_ids=[2], preview="hello", seq=1)
    rows = {
        "device": Device.objects.get().pk,
        "inboxitem": InboxItem.objects.get().pk,
        "deliveryattempt": DeliveryAttempt.objects.get().pk,
    }
    for model, pk in rows.items():
        path = f"/admin/notifications/{model}/{pk}"
        assert admin_client.get(f"{path}/change/").status_code == 200, model
        edit = {"user_id": 9, "body": "edited", "token_valid": "", "platform": "ios"}
        assert admin_client.post(f"{path}/change/", edit).status_code == 403, model
        assert admin_client.post(f"{path}/delete/", {"post": "yes"}).status_code == 403, model
        assert admin_client.get(f"/admin/notifications/{model}/add/").status_code == 403, model
    device = Device.objects.get()
    assert (device.user_id, device.platform, device.token_valid) == (2, "android", True)
    assert InboxItem.objects.get().body == "hello"
    assert DeliveryAttempt.objects.count() == 1
