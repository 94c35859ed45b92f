"""The send path's two statements: take the conversation's next seq, then write the message.

A send used to lock the conversation, then read the membership, the client_msg_id, the block,
write the seq, the message and read the recipients: nine round trips under the conversation's
lock, which every other send to that conversation waits for (docs/benchmarks.md, "Message send
path"). Here it is two, and the lock is held for them, the outbox write and the commit:

1. `UPDATE … SET last_seq = last_seq + 1 … RETURNING` takes the row lock and the seq at once.
2. One INSERT writes the message only if the sender is (still) a member, no block stands in a
   direct conversation, and this client_msg_id is new; in PostgreSQL the same statement returns
   the recipients. It starts after the lock was granted, so in READ COMMITTED it sees every
   membership change committed before (member changes lock the conversation too).

When the INSERT writes nothing, the caller rolls the seq back and asks the careful path why
(not a member, blocked, or a retry): refusals and retries are rare, sends are not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connections

from apps.messaging.models import Block, Conversation, Member, Message
from apps.messaging.services.blocks import direct_pair
from cleave.databases import database_for

DB = database_for("messaging")

_CONVERSATION = Conversation._meta.db_table
_MESSAGE = Message._meta.db_table
_MEMBER = Member._meta.db_table
_BLOCK = Block._meta.db_table

_TAKE_SEQ = (
    f"UPDATE {_CONVERSATION} SET last_seq = last_seq + 1, last_message_at = %s, changed_at = %s "  # noqa: S608 - table names are our models'
    "WHERE id = %s RETURNING last_seq, kind, direct_key"
)
_INSERT = (
    f"INSERT INTO {_MESSAGE} (conversation_id, seq, sender_id, client_msg_id, text, created_at) "  # noqa: S608 - table names are our models'
    "SELECT %s, %s, %s, %s, %s, %s "
    f"WHERE EXISTS (SELECT 1 FROM {_MEMBER} WHERE conversation_id = %s AND user_id = %s) "
    "{unblocked}"
    "ON CONFLICT (conversation_id, sender_id, client_msg_id) DO NOTHING RETURNING id"
)
_UNBLOCKED = (
    f"AND NOT EXISTS (SELECT 1 FROM {_BLOCK} WHERE (blocker_id = %s AND blocked_id = %s) "  # noqa: S608 - table names are our models'
    "OR (blocker_id = %s AND blocked_id = %s)) "
)
# PostgreSQL: the recipients come back with the message id, in the same round trip.
_WITH_RECIPIENTS = (
    "WITH sent AS ({insert}) SELECT sent.id, "  # noqa: S608 - table names are our models'
    f"ARRAY(SELECT user_id FROM {_MEMBER} WHERE conversation_id = %s AND user_id <> %s "
    "ORDER BY user_id) FROM sent"
)


def message_append(
    *, conversation_id: int, sender_id: int, text: str, client_msg_id: str, now: datetime
) -> tuple[Message, list[int]] | None:
    """The new message and its recipients (sorted), or None when nothing was written (no such
    conversation, not a member, blocked, or a client_msg_id already used). The caller holds a
    transaction, and must roll it back on None (the seq was taken)."""
    connection = connections[DB]
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_SEQ, [stamp, stamp, conversation_id])
        taken = cursor.fetchone()
        if taken is None:
            return None
        seq, kind, direct_key = taken
        params: list[Any] = [conversation_id, seq, sender_id, client_msg_id, text, stamp]
        params += [conversation_id, sender_id]
        unblocked = ""
        if kind == Conversation.Kind.DIRECT and direct_key:
            low, high = direct_pair(Conversation(direct_key=direct_key))
            unblocked, params = _UNBLOCKED, [*params, low, high, high, low]
        insert = _INSERT.format(unblocked=unblocked)
        if connection.vendor == "postgresql":
            cursor.execute(
                _WITH_RECIPIENTS.format(insert=insert), [*params, conversation_id, sender_id]
            )
            row = cursor.fetchone()
            if row is None:
                return None
            message_id, recipients = row[0], list(row[1])
        else:  # SQLite (embedded mode): no data-changing CTEs, and no round trips to save
            cursor.execute(insert, params)
            row = cursor.fetchone()
            if row is None:
                return None
            message_id = row[0]
            recipients = sorted(
                Member.objects.using(DB)
                .filter(conversation_id=conversation_id)
                .exclude(user_id=sender_id)
                .values_list("user_id", flat=True)
            )
    message = Message(
        id=message_id,
        conversation_id=conversation_id,
        seq=seq,
        sender_id=sender_id,
        client_msg_id=client_msg_id,
        text=text,
        created_at=now,
    )
    message._state.adding, message._state.db = False, DB
    return message, recipients
