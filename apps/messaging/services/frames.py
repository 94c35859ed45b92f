"""What clients receive about a message, over REST and over the socket alike.

The socket's retained history is append-only, so a frame written when a message was sent still
holds its first text after an edit or a delete. `resolve_history` turns retained frames into
what REST would show now: message frames carry the message's current state, and a member sees
nothing from before they joined.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from apps.messaging.models import Member, Message

MESSAGE_EVENTS = frozenset({"message.sent", "message.edited", "message.deleted"})


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


def parse_entries(entries: list[tuple[int, str]]) -> list[dict[str, Any]]:
    return [json.loads(frame) for _, frame in entries]


def message_ids_in(frames: list[dict[str, Any]]) -> set[int]:
    """The ids of the messages that retained frames speak of."""
    return {
        message_id
        for frame in frames
        if frame.get("event") in MESSAGE_EVENTS
        and isinstance(message_id := (frame.get("data") or {}).get("id"), int)
    }


def resolve_history(
    frames: list[dict[str, Any]], member: Member, current: dict[int, Message]
) -> list[str]:
    """Retained frames of one conversation as `member` may see them now.

    A message frame shows the message as it is now (edited text, a deleted one as a tombstone,
    as REST does), and only if it came after the member joined. Other frames (members added or
    removed, read marks) carry the time they happened and show only from the member's join on;
    one without it (written before frames carried it) is not shown.
    """
    visible = []
    for frame in frames:
        data: dict[str, Any] = frame.get("data") or {}
        if frame.get("event") in MESSAGE_EVENTS:
            message_id = data.get("id")
            message = current.get(message_id) if isinstance(message_id, int) else None
            if message is None or message.seq <= member.joined_seq:
                continue
            frame = {**frame, "data": message_data(message)}
        elif not _since_join(data.get("at"), member):
            continue
        visible.append(json.dumps(frame, separators=(",", ":")))
    return visible


def _since_join(at: Any, member: Member) -> bool:
    if not isinstance(at, str):
        return False
    try:
        return datetime.fromisoformat(at) >= member.joined_at
    except (TypeError, ValueError):
        return False
