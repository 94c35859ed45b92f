"""notifications learns everything from events: devices and tokens, time zones, messages."""

from __future__ import annotations

from apps.notifications import services
from cleave.events import subscriber
from contracts.identity import DeviceRegistered, PushTokenChanged, UserDeleted, UserUpdated
from contracts.messaging import InvitationSent, MessageSent


@subscriber(DeviceRegistered)
def on_device_registered(event: DeviceRegistered) -> None:
    services.device_upsert(
        user_id=event.user_id, device_id=event.device_id, platform=event.platform, push_token=None
    )


@subscriber(PushTokenChanged)
def on_push_token_changed(event: PushTokenChanged) -> None:
    services.device_upsert(
        user_id=event.user_id,
        device_id=event.device_id,
        platform=event.platform,
        push_token=event.push_token,
    )


@subscriber(UserUpdated)
def on_user_updated(event: UserUpdated) -> None:
    services.timezone_set(user_id=event.user_id, timezone_name=event.timezone)


@subscriber(UserDeleted)
def on_user_deleted(event: UserDeleted) -> None:
    services.user_erase(user_id=event.user_id)


@subscriber(MessageSent)
def on_message_sent(event: MessageSent) -> None:
    services.message_notify(
        conversation_id=event.conversation_id,
        sender_id=event.sender_id,
        recipient_ids=event.recipient_ids,
        preview=event.preview,
        seq=event.seq,
    )


@subscriber(InvitationSent)
def on_invitation_sent(event: InvitationSent) -> None:
    services.invitation_notify(
        user_id=event.user_id,
        conversation_id=event.conversation_id,
        invitation_id=event.invitation_id,
        invited_by=event.invited_by,
        title=event.title,
    )
