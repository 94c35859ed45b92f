"""Request and response bodies of messaging's API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from apps.messaging.models import Conversation, Invitation
from cleave.api import RequestSchema, StrictId


class ConversationCreateIn(RequestSchema):
    kind: Literal["direct", "group"]
    members: list[StrictId] = Field(
        min_length=1, max_length=255, description="User ids besides you."
    )
    title: str = Field(default="", max_length=120)


class MemberAddIn(RequestSchema):
    user_id: StrictId


class MessageSendIn(RequestSchema):
    text: str = Field(min_length=1, max_length=4096)
    client_msg_id: str = Field(
        min_length=1,
        max_length=64,
        description="Chosen by the app; a retry with the same id returns the first message.",
    )


class MessageEditIn(RequestSchema):
    text: str = Field(min_length=1, max_length=4096)


class ReadIn(RequestSchema):
    seq: int = Field(ge=0, strict=True)


class MemberOut(Schema):
    user_id: int
    role: str
    display_name: str | None = Field(description="From identity; null for a deleted account.")


class ConversationOut(Schema):
    id: int
    kind: str
    title: str
    last_seq: int
    unread: int
    last_read_seq: int
    created_at: datetime
    last_message_at: datetime | None
    member_ids: list[int]

    @staticmethod
    def resolve_member_ids(conversation: Conversation) -> list[int]:
        return sorted(m.user_id for m in conversation.members.all())


class ConversationDetailOut(Schema):
    id: int
    kind: str
    title: str
    last_seq: int
    created_at: datetime
    members: list[MemberOut]


class MessageOut(Schema):
    id: int
    conversation_id: int
    seq: int
    sender_id: int
    client_msg_id: str
    text: str
    created_at: datetime
    edited_at: datetime | None
    deleted: bool


class MessagePageOut(Schema):
    items: list[MessageOut]
    next_cursor: str | None = Field(
        description="Pass as after_seq (or before_seq, paging back) for the next page."
    )


class ReadOut(Schema):
    last_read_seq: int


class InvitationOut(Schema):
    id: int
    conversation_id: int
    title: str = Field(description="The group's title.")
    invited_by: int
    created_at: datetime

    @staticmethod
    def resolve_title(invitation: Invitation) -> str:
        return str(invitation.conversation.title)
