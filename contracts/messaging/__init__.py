"""What the messaging context publishes: conversations and their messages, as facts.

Other contexts (notifications) learn about messages from these events; they never read
messaging's tables. Calls let a context check membership without a join.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, Event, call

ConversationKind = Literal["direct", "group"]


class MembershipGet(ContractModel):
    conversation_id: int = Field(gt=0)
    user_id: int = Field(gt=0)


class Membership(ContractModel):
    conversation_id: int
    user_id: int
    is_member: bool


class ConversationMembers(ContractModel):
    conversation_id: int
    user_ids: list[int]


class ConversationGet(ContractModel):
    conversation_id: int = Field(gt=0)


class MembershipsGet(ContractModel):
    """Which of `user_ids` belong to which of `conversation_ids`: one question for many (a
    socket's streams, a batch of readers), instead of one call per pair."""

    conversation_ids: list[int] = Field(max_length=1000)
    user_ids: list[int] = Field(max_length=1000)


class Memberships(ContractModel):
    """Per asked conversation, the asked users who are its members (conversations with none of
    them, or that do not exist, are left out)."""

    conversations: list[ConversationMembers]


class MessagingService(Protocol):
    @call(idempotent=True)
    def membership_get(self, query: MembershipGet) -> Membership: ...

    @call(idempotent=True)
    def conversation_members(self, query: ConversationGet) -> ConversationMembers: ...

    @call(idempotent=True)
    def memberships_get(self, query: MembershipsGet) -> Memberships: ...


class ConversationCreated(Event):
    event_type: ClassVar[str] = "messaging.conversation_created"
    conversation_id: int
    kind: ConversationKind
    title: str
    member_ids: list[int]
    created_by: int


class MemberAdded(Event):
    event_type: ClassVar[str] = "messaging.member_added"
    conversation_id: int
    user_id: int
    added_by: int


class InvitationSent(Event):
    """`user_id` was invited to group `conversation_id` by `invited_by`. Not yet a member: they
    become one (and `MemberAdded` follows) only if they accept."""

    event_type: ClassVar[str] = "messaging.invitation_sent"
    invitation_id: int
    conversation_id: int
    user_id: int
    invited_by: int
    title: str


class InvitationDeclined(Event):
    event_type: ClassVar[str] = "messaging.invitation_declined"
    invitation_id: int
    conversation_id: int
    user_id: int


class MemberRemoved(Event):
    event_type: ClassVar[str] = "messaging.member_removed"
    conversation_id: int
    user_id: int
    removed_by: int


class MessageSent(Event):
    """A message was sent: enough for a notification (who, where, a preview), not a join."""

    event_type: ClassVar[str] = "messaging.message_sent"
    conversation_id: int
    message_id: int
    seq: int
    sender_id: int
    recipient_ids: list[int]
    preview: str = Field(max_length=140)


class MessageEdited(Event):
    event_type: ClassVar[str] = "messaging.message_edited"
    conversation_id: int
    message_id: int
    seq: int


class MessageDeleted(Event):
    event_type: ClassVar[str] = "messaging.message_deleted"
    conversation_id: int
    message_id: int
    seq: int


class MessagesRead(Event):
    event_type: ClassVar[str] = "messaging.messages_read"
    conversation_id: int
    user_id: int
    last_read_seq: int


MESSAGING = Contract(
    context="messaging",
    version="1.2",
    service=MessagingService,
    events=(
        ConversationCreated,
        InvitationDeclined,
        InvitationSent,
        MemberAdded,
        MemberRemoved,
        MessageDeleted,
        MessageEdited,
        MessageSent,
        MessagesRead,
    ),
)

__all__ = [
    "ConversationCreated",
    "ConversationGet",
    "ConversationKind",
    "ConversationMembers",
    "InvitationDeclined",
    "InvitationSent",
    "MESSAGING",
    "MemberAdded",
    "MemberRemoved",
    "Membership",
    "MembershipGet",
    "MessageDeleted",
    "MessageEdited",
    "MessageSent",
    "MessagesRead",
    "MessagingService",
]
