"""A push leaves once, after the subscriber's transaction commits: a batch the bus rolls back and
re-applies event by event does not push twice (issue 18). Driven through the bus's consumer, as
the events worker applies a batch."""

from __future__ import annotations

from typing import Any

import pytest

from apps.notifications.models import DeliveryAttempt, InboxItem
from apps.notifications.tests.fakes import RecordingProvider
from cleave.events.consumer import consume
from cleave.events.models import FailedDelivery
from cleave.realtime.presence import presence
from contracts.identity import PushTokenChanged, UserUpdated
from contracts.messaging import MessageSent

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def recording(settings: Any) -> list[Any]:
    settings.CLEAVE_PUSH_PROVIDER = "apps.notifications.tests.fakes.RecordingProvider"
    RecordingProvider.sent.clear()
    # Nobody has a socket open (in either mode's presence store): every recipient is pushed.
    presence._memory.clear()
    if settings.CONFIG.redis_url:
        import redis

        client = redis.Redis.from_url(settings.CONFIG.redis_url)
        for key in client.scan_iter(match="cleave:rt:presence:*"):
            client.delete(key)
    return RecordingProvider.sent


def _item(event: Any) -> dict[str, Any]:
    return {"envelope": event.envelope(), "headers": {}}


def _phone(user_id: int, device_id: str = "phone", token: str = "") -> dict[str, Any]:
    return _item(
        PushTokenChanged(
            aggregate_id=str(user_id),
            user_id=user_id,
            device_id=device_id,
            platform="android",
            push_token=token or f"fcm-{user_id}",
        )
    )


def _message(conversation_id: int, recipient_id: int) -> dict[str, Any]:
    return _item(
        MessageSent(
            aggregate_id=str(conversation_id),
            conversation_id=conversation_id,
            message_id=conversation_id * 100,
            seq=1,
            sender_id=1,
            recipient_ids=[recipient_id],
            preview=f"hello {recipient_id}",
        )
    )


def _unreadable_update(user_id: int) -> dict[str, Any]:
    """An event from a newer publisher than this subscriber knows: it fails (a dead letter)."""
    item = _item(
        UserUpdated(
            aggregate_id=str(user_id),
            user_id=user_id,
            display_name="Zed",
            locale="en",
            timezone="UTC",
        )
    )
    item["envelope"]["version"] = 99
    return item


def test_a_batch_rolled_back_and_reapplied_event_by_event_pushes_each_message_once(
    recording: list[Any],
) -> None:
    consume("notifications", [_phone(2), _phone(3)])

    # The messages' subscriber runs first; the batch then fails on the last event, is rolled
    # back, and applied again one event at a time.
    consume("notifications", [_message(7, 2), _message(8, 3), _unreadable_update(4)])

    assert sorted(token for _, token, _ in recording) == ["fcm-2", "fcm-3"]
    assert DeliveryAttempt.objects.filter(ok=True).count() == 2
    assert sorted(InboxItem.objects.values_list("user_id", flat=True)) == [2, 3]
    assert list(FailedDelivery.objects.values_list("subscriber", "status")) == [
        ("notifications.on_user_updated", FailedDelivery.Status.DEAD)
    ]


def test_a_device_whose_push_raises_costs_the_other_devices_nothing(
    recording: list[Any], settings: Any
) -> None:
    settings.CLEAVE_PUSH_PROVIDER = "apps.notifications.tests.fakes.UnreachableForSomeProvider"
    consume("notifications", [_phone(2, "tablet", "unreachable-2"), _phone(2)])

    consume("notifications", [_message(7, 2)])

    assert [token for _, token, _ in recording] == ["fcm-2"]
    attempts = {a.device.device_id: (a.ok, a.response) for a in DeliveryAttempt.objects.all()}
    assert attempts == {
        "phone": (True, '{"name": "projects/x/messages/1"}'),
        "tablet": (False, "ConnectionError: connection reset by peer"),
    }
    assert InboxItem.objects.count() == 1
