"""Conversations and their members."""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.messaging import selectors
from apps.messaging.error_codes import (
    AlreadyMember,
    ConversationNotFound,
    EmailUnverified,
    InvalidMembers,
    NotAGroup,
    NotOwner,
    UserUnavailable,
)
from apps.messaging.models import Conversation, Invitation, Member
from apps.messaging.services.blocks import refuse_if_blocked_by
from apps.messaging.services.frames import conversation_stream
from apps.messaging.services.invitations import MAX_GROUP, invitations_send
from apps.messaging.services.sync import conversation_left
from cleave.contracts.registry import client
from cleave.databases import database_for
from cleave.events import publish
from cleave.realtime import push, subscribe, unsubscribe
from contracts.identity import IDENTITY, IdentityService, UsersGet
from contracts.messaging import (
    ConversationCreated,
    ConversationKind,
    MemberRemoved,
    MessagesRead,
)

DB = database_for("messaging")


def _active_users(user_ids: set[int]) -> None:
    """Refuse ids that are not active accounts, and, when the deployment requires it
    (CLEAVE_REQUIRE_EMAIL_VERIFICATION), accounts that have not verified their address —
    creator and invitees alike (asked of identity through its contract, in one call)."""
    identity = client(IDENTITY, IdentityService)
    active = [
        p for p in identity.users_get(UsersGet(user_ids=sorted(user_ids))).users if p.is_active
    ]
    missing = sorted(user_ids - {p.id for p in active})
    if missing:
        raise InvalidMembers(
            details={"reason": f"unknown or inactive users: {missing}", "user_ids": missing}
        )
    if settings.CLEAVE_REQUIRE_EMAIL_VERIFICATION:
        unverified = sorted(p.id for p in active if not p.email_verified)
        if unverified:
            raise EmailUnverified(details={"user_ids": unverified})


def conversation_create(
    *, creator_id: int, kind: ConversationKind, member_ids: list[int], title: str = ""
) -> tuple[Conversation, bool]:
    """Create a conversation. A direct one starts at once (or is returned as is if the pair
    already has one) unless a block stands between the two; in a group only the creator is a
    member at once, the others are invited."""
    everyone = {creator_id, *member_ids}
    if kind == Conversation.Kind.DIRECT and len(everyone) != 2:
        raise InvalidMembers(
            details={"reason": "a direct conversation has exactly one other member"}
        )
    if kind == Conversation.Kind.GROUP and len(everyone) > MAX_GROUP:
        raise InvalidMembers(details={"reason": f"a group has at most {MAX_GROUP} members"})
    _active_users(everyone)
    if kind == Conversation.Kind.DIRECT:
        (other,) = everyone - {creator_id}
        if selectors.block_exists_either_way(user_id=creator_id, other_id=other):
            raise UserUnavailable()
    else:
        refuse_if_blocked_by(actor_id=creator_id, user_ids=everyone)
    direct_key = (
        ":".join(str(u) for u in sorted(everyone)) if kind == Conversation.Kind.DIRECT else None
    )
    if direct_key:
        existing = Conversation.objects.using(DB).filter(direct_key=direct_key).first()
        if existing:
            return existing, False
    members = sorted(everyone) if direct_key else [creator_id]
    try:
        with transaction.atomic(using=DB):
            conversation = Conversation.objects.using(DB).create(
                kind=kind, title=title.strip(), created_by=creator_id, direct_key=direct_key
            )
            owner = Member.Role.OWNER if kind == Conversation.Kind.GROUP else Member.Role.MEMBER
            Member.objects.using(DB).bulk_create(
                Member(
                    conversation=conversation,
                    user_id=user_id,
                    role=owner if user_id == creator_id else Member.Role.MEMBER,
                )
                for user_id in members
            )
            publish(
                ConversationCreated(
                    aggregate_id=str(conversation.pk),
                    conversation_id=conversation.pk,
                    kind=kind,
                    title=conversation.title,
                    member_ids=members,
                    created_by=creator_id,
                )
            )
            if not direct_key:
                invitees = sorted(everyone - {creator_id})
                invitations_send(conversation, inviter_id=creator_id, user_ids=invitees)
            stream = conversation_stream(conversation.pk)

            def follow() -> None:
                for user_id in members:
                    subscribe(user_id, stream)

            transaction.on_commit(follow, using=DB)
    except IntegrityError:  # the same pair raced us to it
        return Conversation.objects.using(DB).get(direct_key=direct_key), False
    return conversation, True


def locked_membership(conversation_id: int, user_id: int) -> tuple[Conversation, Member]:
    """Lock the conversation; the caller holds a transaction. Non-members get not-found."""
    conversation = (
        Conversation.objects.using(DB).select_for_update().filter(pk=conversation_id).first()
    )
    member = (
        Member.objects.using(DB).filter(conversation_id=conversation_id, user_id=user_id).first()
        if conversation
        else None
    )
    if conversation is None or member is None:
        raise ConversationNotFound()
    return conversation, member


def member_invite(*, conversation_id: int, actor_id: int, user_id: int) -> tuple[Invitation, bool]:
    """The owner invites someone to the group (what "adding a member" is): they become a member
    only by accepting. Returns the invitation and whether it is new (an open one is kept)."""
    with transaction.atomic(using=DB):
        conversation, actor = locked_membership(conversation_id, actor_id)
        if conversation.kind != Conversation.Kind.GROUP:
            raise NotAGroup()
        if actor.role != Member.Role.OWNER:
            raise NotOwner()
        if Member.objects.using(DB).filter(conversation=conversation, user_id=user_id).exists():
            raise AlreadyMember()
        _active_users({user_id})
        refuse_if_blocked_by(actor_id=actor_id, user_ids={user_id})
        ((invitation, created),) = invitations_send(
            conversation, inviter_id=actor_id, user_ids=[user_id]
        )
    return invitation, created


def member_remove(*, conversation_id: int, actor_id: int, user_id: int) -> None:
    """The owner removes a member, or a member leaves; a leaving owner hands over ownership."""
    with transaction.atomic(using=DB):
        conversation, actor = locked_membership(conversation_id, actor_id)
        if conversation.kind != Conversation.Kind.GROUP:
            raise NotAGroup()
        if actor_id != user_id and actor.role != Member.Role.OWNER:
            raise NotOwner()
        member = Member.objects.using(DB).filter(conversation=conversation, user_id=user_id).first()
        if member is None:
            raise ConversationNotFound()
        member.delete()
        if member.role == Member.Role.OWNER:
            heir = (
                Member.objects.using(DB)
                .filter(conversation=conversation)
                .order_by("joined_at", "pk")
                .first()
            )
            if heir:
                heir.role = Member.Role.OWNER
                heir.save(using=DB, update_fields=["role"])
        member_removed(conversation, user_id=user_id, by=actor_id)


def member_removed(conversation: Conversation, *, user_id: int, by: int) -> None:
    """Publish and push a membership's end, and leave a tombstone in the user's delta sync;
    the caller holds a transaction."""
    conversation_left(conversation_id=conversation.pk, user_id=user_id)
    publish(
        MemberRemoved(
            aggregate_id=str(conversation.pk),
            conversation_id=conversation.pk,
            user_id=user_id,
            removed_by=by,
        )
    )
    stream = conversation_stream(conversation.pk)
    change = {"user_id": user_id, "by": by, "at": timezone.now().isoformat()}

    def announce() -> None:
        push(stream, "member.removed", change)
        unsubscribe(user_id, stream)

    transaction.on_commit(announce, using=DB)


def conversation_read(*, conversation_id: int, user_id: int, seq: int) -> int:
    """Move the user's read mark forward (never back); returns the mark."""
    with transaction.atomic(using=DB):
        conversation, member = locked_membership(conversation_id, user_id)
        mark = min(seq, conversation.last_seq)
        if mark <= member.last_read_seq:
            return member.last_read_seq
        member.last_read_seq = mark
        member.changed_at = timezone.now()
        member.save(using=DB, update_fields=["last_read_seq", "changed_at"])
        publish(
            MessagesRead(
                aggregate_id=str(conversation.pk),
                conversation_id=conversation.pk,
                user_id=user_id,
                last_read_seq=mark,
            )
        )
        stream = conversation_stream(conversation.pk)
        receipt = {"user_id": user_id, "last_read_seq": mark, "at": timezone.now().isoformat()}
        transaction.on_commit(lambda: push(stream, "messages.read", receipt), using=DB)
    return mark
