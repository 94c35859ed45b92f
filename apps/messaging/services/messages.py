"""Messages: send (idempotent by client_msg_id), edit, delete (tombstone kept in sequence)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.messaging.error_codes import MessageDeletedError, MessageNotFound, NotSender
from apps.messaging.models import Member, Message
from apps.messaging.services.blocks import refuse_if_direct_blocked
from apps.messaging.services.conversations import locked_membership, member_removed
from apps.messaging.services.frames import conversation_stream, message_data
from apps.messaging.services.message_append import message_append
from apps.messaging.services.sync import conversation_touch
from apps.messaging.throttles import send_count, send_uncount
from cleave.databases import database_for
from cleave.errors import Throttled, ValidationFailed
from cleave.events import publish
from cleave.realtime import push
from contracts.messaging import MessageDeleted, MessageEdited, MessageSent

DB = database_for("messaging")


def _check_text(text: str) -> str:
    if not text.strip():
        raise ValidationFailed(
            details=[{"loc": ["body", "text"], "msg": "a message needs text", "type": "empty"}]
        )
    if len(text.encode()) > Message.MAX_TEXT:
        raise ValidationFailed(
            details=[
                {
                    "loc": ["body", "text"],
                    "msg": f"at most {Message.MAX_TEXT} bytes",
                    "type": "too_long",
                }
            ]
        )
    return text


def message_send(
    *, conversation_id: int, sender_id: int, text: str, client_msg_id: str
) -> tuple[Message, bool]:
    """Append a message; sending the same `client_msg_id` again returns the first message."""
    _check_text(text)
    # A retry costs nothing: only new messages count. Counted first and given back when the
    # send turns out to be a retry, so a new message (nearly every send) needs no look-up.
    try:
        send_count(sender_id=sender_id)
    except Throttled:
        existing = _sent_before(conversation_id, sender_id, client_msg_id)
        if existing is None:
            raise
        return existing, False  # over the limit, a retry still gets its first message
    for _ in range(3):
        sent = _send_fast(conversation_id, sender_id, text, client_msg_id)
        if sent is not None:
            return sent, True
        existing = _send_refused(conversation_id, sender_id, client_msg_id)
        if existing is not None:
            send_uncount(sender_id=sender_id)
            return existing, False
    # Only races end here (membership or a block changing between the two checks, thrice).
    raise RuntimeError(f"send to conversation {conversation_id} kept changing under it")


class _NotWritten(Exception):
    """Rolls the fast path's transaction back (and the seq it took)."""


def _send_fast(
    conversation_id: int, sender_id: int, text: str, client_msg_id: str
) -> Message | None:
    """Two statements and the outbox under the conversation's lock (services/message_append);
    None when they wrote nothing, rolled back."""
    try:
        with transaction.atomic(using=DB):
            appended = message_append(
                conversation_id=conversation_id,
                sender_id=sender_id,
                text=text,
                client_msg_id=client_msg_id,
                now=timezone.now(),
            )
            if appended is None:
                raise _NotWritten
            message, recipients = appended
            publish(
                MessageSent(
                    aggregate_id=str(conversation_id),
                    conversation_id=conversation_id,
                    message_id=message.pk,
                    seq=message.seq,
                    sender_id=sender_id,
                    recipient_ids=recipients,
                    preview=text[:140],
                )
            )
            data = message_data(message)
            transaction.on_commit(
                lambda: push(conversation_stream(conversation_id), "message.sent", data), using=DB
            )
    except _NotWritten:
        return None
    return message


def _send_refused(conversation_id: int, sender_id: int, client_msg_id: str) -> Message | None:
    """Why the fast path wrote nothing: raises for a non-member (not found) or a block, returns
    the first message for a retry, or None when nothing stands in the way any more."""
    with transaction.atomic(using=DB):
        conversation, _ = locked_membership(conversation_id, sender_id)
        existing = _sent_before(conversation_id, sender_id, client_msg_id)
        if existing:
            return existing
        refuse_if_direct_blocked(conversation)
    return None


def _sent_before(conversation_id: int, sender_id: int, client_msg_id: str) -> Message | None:
    """The message this sender already sent here with this client_msg_id, if any."""
    return (
        Message.objects.using(DB)
        .filter(conversation_id=conversation_id, sender_id=sender_id, client_msg_id=client_msg_id)
        .first()
    )


def _locked_message(conversation_id: int, message_id: int) -> Message:
    """The message, row-locked; the caller holds a transaction."""
    message = (
        Message.objects.using(DB)
        .select_for_update()
        .filter(pk=message_id, conversation_id=conversation_id)
        .first()
    )
    if message is None:
        raise MessageNotFound()
    return message


def _own_live_message(conversation_id: int, message_id: int, user_id: int) -> Message:
    message = _locked_message(conversation_id, message_id)
    if message.sender_id != user_id:
        raise NotSender()
    if message.deleted_at is not None:
        raise MessageDeletedError()
    return message


def message_edit(*, conversation_id: int, message_id: int, editor_id: int, text: str) -> Message:
    _check_text(text)
    with transaction.atomic(using=DB):
        locked_membership(conversation_id, editor_id)
        message = _own_live_message(conversation_id, message_id, editor_id)
        message.text, message.edited_at = text, timezone.now()
        message.save(using=DB, update_fields=["text", "edited_at"])
        _changed(message, MessageEdited, "message.edited")
    return message


def message_delete(*, conversation_id: int, message_id: int, user_id: int | None) -> Message:
    """Tombstone a message (its seq stays). `user_id` None: staff moderation, any message."""
    with transaction.atomic(using=DB):
        if user_id is None:
            message = _locked_message(conversation_id, message_id)
        else:
            locked_membership(conversation_id, user_id)
            message = _own_live_message(conversation_id, message_id, user_id)
        if message.deleted_at is None:
            _tombstone(message)
    return message


def _tombstone(message: Message) -> None:
    """The caller holds a transaction."""
    message.text, message.deleted_at = "", timezone.now()
    message.save(using=DB, update_fields=["text", "deleted_at"])
    conversation_touch(message.conversation_id)  # unread counts changed
    _changed(message, MessageDeleted, "message.deleted")


def _changed(
    message: Message, event: type[MessageEdited] | type[MessageDeleted], frame_event: str
) -> None:
    """Publish a message's change and, after commit, push it to the conversation's sockets."""
    conversation_id = message.conversation_id
    publish(
        event(
            aggregate_id=str(conversation_id),
            conversation_id=conversation_id,
            message_id=message.pk,
            seq=message.seq,
        )
    )
    data = message_data(message)
    transaction.on_commit(
        lambda: push(conversation_stream(conversation_id), frame_event, data), using=DB
    )


def user_erase(*, user_id: int) -> int:
    """An account was deleted: tombstone its messages and take it out of every conversation."""
    with transaction.atomic(using=DB):
        messages = list(
            Message.objects.using(DB)
            .select_for_update()
            .filter(sender_id=user_id, deleted_at__isnull=True)
        )
        for message in messages:
            _tombstone(message)
        for member in (
            Member.objects.using(DB).select_related("conversation").filter(user_id=user_id)
        ):
            member.delete()
            member_removed(member.conversation, user_id=user_id, by=user_id)
    return len(messages)
