"""messaging's mobile API under /api/v1/conversations."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from apps.messaging import selectors
from apps.messaging.error_codes import (
    AlreadyMember,
    ConversationNotFound,
    EmailUnverified,
    InvalidMembers,
    InvitationNotFound,
    MessageDeletedError,
    MessageNotFound,
    NotAGroup,
    NotOwner,
    NotSender,
    UserUnavailable,
)
from apps.messaging.models import Conversation, Invitation
from apps.messaging.schemas import (
    ConversationCreateIn,
    ConversationDetailOut,
    ConversationOut,
    InvitationOut,
    MemberAddIn,
    MemberOut,
    MessageEditIn,
    MessageOut,
    MessagePageOut,
    MessageSendIn,
    ReadIn,
    ReadOut,
)
from apps.messaging.services import conversations, invitations, messages
from apps.messaging.services.frames import message_data
from cleave import sync
from cleave.api import Id
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.contracts.registry import client
from cleave.errors import Throttled
from cleave.flags.client import FeatureDisabled, is_active
from cleave.openapi.errors import raises
from cleave.pagination import CursorPagination
from cleave.sync import SyncOut
from contracts.identity import IDENTITY, IdentityService, UsersGet

router = Router(auth=bearer, tags=["messaging"])
invitations_router = Router(auth=bearer, tags=["messaging"])


class MessagePageIn(Schema):
    after_seq: int | None = Field(default=None, ge=0)
    before_seq: int | None = Field(default=None, ge=1)
    limit: int = Field(default=50, ge=1, le=100)  # docs/api.md: 1–100, as every list


def _me(request: HttpRequest) -> int:
    return principal_of(request).user_id


def _detail(conversation: Conversation) -> ConversationDetailOut:
    members = sorted(conversation.members.all(), key=lambda m: (m.joined_at, m.pk))
    identity = client(IDENTITY, IdentityService)
    names = {
        p.id: p.display_name
        for p in identity.users_get(UsersGet(user_ids=[m.user_id for m in members])).users
    }
    return ConversationDetailOut(
        id=conversation.pk,
        kind=conversation.kind,
        title=conversation.title,
        last_seq=conversation.last_seq,
        created_at=conversation.created_at,
        members=[
            MemberOut(user_id=m.user_id, role=m.role, display_name=names.get(m.user_id))
            for m in members
        ],
    )


def _member_conversation(request: HttpRequest, conversation_id: Id) -> Conversation:
    conversation = selectors.conversation_get(conversation_id=conversation_id, user_id=_me(request))
    if conversation is None:
        raise ConversationNotFound()
    return conversation


@router.get("", response=list[ConversationOut])
@paginate(CursorPagination, ordering=("-activity", "-id"))
def conversation_list(request: HttpRequest) -> QuerySet[Conversation]:
    """Your conversations, most recently active first, with unread counts."""
    return selectors.conversation_list(user_id=_me(request))


class ConversationSyncOut(SyncOut[ConversationOut]):
    """What changed since the token, the ids gone since, and the next token."""


class SyncIn(Schema):
    since: str | None = Field(
        default=None, max_length=40, description="The last answer's sync_token; none to start."
    )


@router.get("/sync", response=ConversationSyncOut)
@raises(sync.SyncExpired)
def conversation_sync(request: HttpRequest, query: Query[SyncIn]) -> dict[str, Any]:
    """Delta sync: your conversations that changed since the token, and the ids of those that
    left your list (docs/api.md, "Delta sync"). 410 `sync_expired`: refetch the list."""
    token = sync.next_token()
    if query.since is None:
        return {"changed": [], "deleted": [], "sync_token": token}
    since = sync.since_of(query.since)
    changed = list(
        selectors.conversation_changed_list(user_id=_me(request), since=since)[
            : sync.MAX_CHANGES + 1
        ]
    )
    sync.check_size(len(changed))
    deleted = selectors.conversation_gone_list(user_id=_me(request), since=since)
    return {"changed": changed, "deleted": deleted, "sync_token": token}


@router.post("", response={200: ConversationDetailOut, 201: ConversationDetailOut})
@raises(InvalidMembers, EmailUnverified, UserUnavailable)
def conversation_create(
    request: HttpRequest, payload: ConversationCreateIn
) -> Status[ConversationDetailOut]:
    """Create a conversation; a direct one with the same person returns the existing one (200)."""
    conversation, created = conversations.conversation_create(
        creator_id=_me(request), kind=payload.kind, member_ids=payload.members, title=payload.title
    )
    fresh = _member_conversation(request, conversation.pk)
    return Status(201 if created else 200, _detail(fresh))


@router.get("/{conversation_id}", response=ConversationDetailOut)
@raises(ConversationNotFound)
def conversation_get(request: HttpRequest, conversation_id: Id) -> ConversationDetailOut:
    return _detail(_member_conversation(request, conversation_id))


@router.post("/{conversation_id}/members", response={200: InvitationOut, 201: InvitationOut})
@raises(
    ConversationNotFound,
    NotAGroup,
    NotOwner,
    AlreadyMember,
    InvalidMembers,
    EmailUnverified,
    UserUnavailable,
)
def member_invite(
    request: HttpRequest, conversation_id: Id, payload: MemberAddIn
) -> Status[Invitation]:
    """The owner invites someone: they become a member only by accepting (201; an invitation
    still open is returned with 200). 403 `user_unavailable` if they blocked you."""
    invitation, created = conversations.member_invite(
        conversation_id=conversation_id, actor_id=_me(request), user_id=payload.user_id
    )
    return Status(201 if created else 200, invitation)


@router.delete("/{conversation_id}/members/{user_id}", response={204: None})
@raises(ConversationNotFound, NotAGroup, NotOwner)
def member_remove(request: HttpRequest, conversation_id: Id, user_id: Id) -> Status[None]:
    """The owner removes a member; anyone removes themself (leaves)."""
    conversations.member_remove(
        conversation_id=conversation_id, actor_id=_me(request), user_id=user_id
    )
    return Status(204, None)


@router.get("/{conversation_id}/messages", response=MessagePageOut)
@raises(ConversationNotFound)
def message_list(
    request: HttpRequest, conversation_id: Id, page: Query[MessagePageIn]
) -> dict[str, Any]:
    """Messages in seq order: after `after_seq`, or the latest (before `before_seq`)."""
    member = selectors.membership_get(conversation_id=conversation_id, user_id=_me(request))
    if member is None:
        raise ConversationNotFound()
    rows, more = selectors.message_list(
        conversation_id=conversation_id,
        since_seq=member.joined_seq,
        after_seq=page.after_seq,
        before_seq=page.before_seq,
        limit=page.limit,
    )
    edge = rows[-1].seq if page.after_seq is not None and rows else (rows[0].seq if rows else None)
    return {
        "items": [message_data(m) for m in rows],
        "next_cursor": str(edge) if more and edge else None,
    }


@router.post("/{conversation_id}/messages", response={200: MessageOut, 201: MessageOut})
@raises(ConversationNotFound, UserUnavailable, Throttled)
def message_send(
    request: HttpRequest, conversation_id: Id, payload: MessageSendIn
) -> Status[dict[str, Any]]:
    """Send; a retry with the same client_msg_id returns the first message (200), never a copy."""
    message, created = messages.message_send(
        conversation_id=conversation_id,
        sender_id=_me(request),
        text=payload.text,
        client_msg_id=payload.client_msg_id,
    )
    return Status(201 if created else 200, message_data(message))


@router.patch("/{conversation_id}/messages/{message_id}", response=MessageOut)
@raises(FeatureDisabled, ConversationNotFound, MessageNotFound, NotSender, MessageDeletedError)
def message_edit(
    request: HttpRequest, conversation_id: Id, message_id: Id, payload: MessageEditIn
) -> dict[str, Any]:
    """Edit your message; behind the flag `messaging.edit` (on unless an operator turns it off)."""
    if not is_active("messaging.edit", principal_of(request), default=True):
        raise FeatureDisabled()
    message = messages.message_edit(
        conversation_id=conversation_id,
        message_id=message_id,
        editor_id=_me(request),
        text=payload.text,
    )
    return message_data(message)


@router.delete("/{conversation_id}/messages/{message_id}", response={204: None})
@raises(ConversationNotFound, MessageNotFound, NotSender, MessageDeletedError)
def message_delete(request: HttpRequest, conversation_id: Id, message_id: Id) -> Status[None]:
    messages.message_delete(
        conversation_id=conversation_id, message_id=message_id, user_id=_me(request)
    )
    return Status(204, None)


@router.post("/{conversation_id}/read", response=ReadOut)
@raises(ConversationNotFound)
def conversation_read(request: HttpRequest, conversation_id: Id, payload: ReadIn) -> ReadOut:
    mark = conversations.conversation_read(
        conversation_id=conversation_id, user_id=_me(request), seq=payload.seq
    )
    return ReadOut(last_read_seq=mark)


@invitations_router.get("", response=list[InvitationOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def invitation_list(request: HttpRequest) -> QuerySet[Invitation]:
    """Your open invitations to groups, newest first."""
    return selectors.invitation_list(user_id=_me(request))


@invitations_router.post("/{invitation_id}/accept", response=ConversationDetailOut)
@raises(InvitationNotFound, InvalidMembers)
def invitation_accept(request: HttpRequest, invitation_id: Id) -> ConversationDetailOut:
    """Join the group: you are a member from now on (its stream joins your sockets)."""
    conversation = invitations.invitation_accept(invitation_id=invitation_id, user_id=_me(request))
    return _detail(_member_conversation(request, conversation.pk))


@invitations_router.post("/{invitation_id}/decline", response={204: None})
@raises(InvitationNotFound)
def invitation_decline(request: HttpRequest, invitation_id: Id) -> Status[None]:
    invitations.invitation_decline(invitation_id=invitation_id, user_id=_me(request))
    return Status(204, None)
