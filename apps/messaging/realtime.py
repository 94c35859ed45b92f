"""messaging on the socket: conversation streams, and sending messages as frames."""

from __future__ import annotations

from apps.messaging import selectors
from apps.messaging.error_codes import ConversationNotFound, MessageDeletedError, UserUnavailable
from apps.messaging.services.frames import (
    conversation_stream,
    message_data,
    message_ids_in,
    parse_entries,
    resolve_history,
)
from apps.messaging.services.messages import message_send
from cleave.api import ID_MAX
from cleave.auth.principal import Principal
from cleave.errors import Throttled, ValidationFailed
from cleave.realtime import register_event, register_frame_handler, register_streams
from cleave.realtime.registry import Entries
from contracts.messaging.frames import (
    MemberChange,
    MessageData,
    MessageSendAck,
    MessageSendFrame,
    ReadReceipt,
)


def _initial_many(principals: list[Principal]) -> dict[int, list[str]]:
    found = selectors.conversation_id_list_by_user(user_ids=[p.user_id for p in principals])
    return {user_id: [conversation_stream(c) for c in ids] for user_id, ids in found.items()}


def _initial(principal: Principal) -> list[str]:
    return _initial_many([principal])[principal.user_id]


def _conversation_id(stream: str) -> int | None:
    """The id in "conv:<id>", or None for anything a client made up (not ASCII digits — "²"
    is a digit to isdigit() but not to int() — or beyond a bigint)."""
    _, _, raw_id = stream.partition(":")
    if not (raw_id.isascii() and raw_id.isdigit()):
        return None
    conversation_id = int(raw_id)
    return conversation_id if 0 < conversation_id <= ID_MAX else None


def _conversation_ids(streams: list[str]) -> dict[int, str]:
    ids = {_conversation_id(stream): stream for stream in streams}
    return {conversation_id: stream for conversation_id, stream in ids.items() if conversation_id}


def _readable(principal: Principal, streams: list[str]) -> set[str]:
    """The conversation streams among `streams` whose conversation the user is in: one query."""
    wanted = _conversation_ids(streams)
    memberships = selectors.membership_list(
        user_id=principal.user_id, conversation_ids=list(wanted)
    )
    return {wanted[conversation_id] for conversation_id in memberships}


def _replay(principal: Principal, history: dict[str, Entries]) -> dict[str, list[str] | None]:
    """Retained frames as the reader may see them now (see `resolve_history`)."""
    wanted = _conversation_ids(list(history))
    memberships = selectors.membership_list(
        user_id=principal.user_id, conversation_ids=list(wanted)
    )
    frames = {stream: parse_entries(history[stream]) for stream in wanted.values()}
    message_ids = {
        message_id for parsed in frames.values() for message_id in message_ids_in(parsed)
    }
    current = selectors.message_list_by_id(message_ids=sorted(message_ids))
    return {
        stream: (
            resolve_history(frames[stream], memberships[conversation_id], current)
            if conversation_id in memberships
            else None
        )
        for conversation_id, stream in wanted.items()
    } | {stream: None for stream in history if stream not in wanted.values()}


def _send(principal: Principal, frame: MessageSendFrame) -> MessageSendAck:
    """`{"type": "message.send", "id", "conversation_id", "text", "client_msg_id"}`: as REST."""
    message, created = message_send(
        conversation_id=frame.conversation_id,
        sender_id=principal.user_id,
        text=frame.text,
        client_msg_id=frame.client_msg_id,
    )
    return MessageSendAck(
        message=MessageData.model_validate(message_data(message)), created=created
    )


def _members(stream: str) -> list[int]:
    conversation_id = _conversation_id(stream)
    return selectors.member_id_list(conversation_id=conversation_id) if conversation_id else []


def register() -> None:
    register_streams(
        "conv",
        initial=_initial,
        readable=_readable,
        members=_members,
        replay=_replay,
        initial_many=_initial_many,
    )
    register_frame_handler(
        MessageSendFrame,
        _send,
        ack=MessageSendAck,
        errors=(
            ValidationFailed,
            ConversationNotFound,
            UserUnavailable,
            MessageDeletedError,
            Throttled,
        ),
    )
    for event in ("message.sent", "message.edited", "message.deleted"):
        register_event(event, MessageData, stream="conv")
    for event in ("member.added", "member.removed"):
        register_event(event, MemberChange, stream="conv")
    register_event("messages.read", ReadReceipt, stream="conv")
