"""What clients receive about a message, over REST and over the socket alike."""

from __future__ import annotations

from typing import Any

from apps.messaging.models import Message


def message_data(message: Message) -> dict[str, Any]:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender_id": message.sender_id,
        "client_msg_id": message.client_msg_id,
        "text": message.text,
        "created_at": message.created_at.isoformat(),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "deleted": message.deleted_at is not None,
    }


def conversation_stream(conversation_id: int) -> str:
    return f"conv:{conversation_id}"
