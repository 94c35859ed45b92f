"""Invitations: how anyone but a group's creator becomes a member — by accepting.

Nobody is put into a group without consent (issue 16, finding 7): adding someone, or naming
them when creating a group, sends an invitation; until they accept they are not a member (no
history, no frames, no presence either way), and someone who left is invited again, never
re-added. A user who blocked the inviter cannot be invited at all (`user_unavailable`).
"""

from __future__ import annotations

from django.db import transaction

from apps.messaging.error_codes import InvalidMembers, InvitationNotFound
from apps.messaging.models import Conversation, Invitation, Member
from apps.messaging.services.blocks import invitation_close
from apps.messaging.services.frames import conversation_stream
from apps.messaging.services.sync import conversation_touch
from cleave.databases import database_for
from cleave.events import publish
from cleave.realtime import push, subscribe
from contracts.messaging import InvitationSent, MemberAdded

DB = database_for("messaging")
MAX_GROUP = 256


def invitations_send(
    conversation: Conversation, *, inviter_id: int, user_ids: list[int]
) -> list[tuple[Invitation, bool]]:
    """Invite `user_ids` (checked by the caller: active, not blocking the inviter, not members)
    to a group; an open invitation is kept, not repeated (False: it was open already). The
    caller holds a transaction."""
    invitations = []
    for user_id in user_ids:
        invitation, created = Invitation.objects.using(DB).get_or_create(
            conversation=conversation,
            user_id=user_id,
            status=Invitation.Status.PENDING,
            defaults={"invited_by": inviter_id},
        )
        invitations.append((invitation, created))
        if created:
            publish(
                InvitationSent(
                    aggregate_id=str(conversation.pk),
                    invitation_id=invitation.pk,
                    conversation_id=conversation.pk,
                    user_id=user_id,
                    invited_by=inviter_id,
                    title=conversation.title,
                )
            )
    return invitations


def _locked_invitation(invitation_id: int, user_id: int) -> Invitation:
    """The invitee's open invitation, row-locked; the caller holds a transaction."""
    invitation = (
        Invitation.objects.using(DB)
        .select_for_update()
        .filter(pk=invitation_id, user_id=user_id, status=Invitation.Status.PENDING)
        .first()
    )
    if invitation is None:
        raise InvitationNotFound()
    return invitation


def invitation_accept(*, invitation_id: int, user_id: int) -> Conversation:
    """The invitee joins the group: a member from now on, announced like any member."""
    with transaction.atomic(using=DB):
        invitation = _locked_invitation(invitation_id, user_id)
        conversation = (
            Conversation.objects.using(DB).select_for_update().get(pk=invitation.conversation_id)
        )
        if Member.objects.using(DB).filter(conversation=conversation).count() >= MAX_GROUP:
            raise InvalidMembers(details={"reason": f"a group has at most {MAX_GROUP} members"})
        invitation_close(invitation, status=Invitation.Status.ACCEPTED)
        # History starts at the join: nothing said before is theirs to read, or unread.
        member, joined = Member.objects.using(DB).get_or_create(
            conversation=conversation,
            user_id=user_id,
            defaults={"joined_seq": conversation.last_seq, "last_read_seq": conversation.last_seq},
        )
        if joined:
            conversation_touch(conversation.pk)  # the others' member lists changed
            publish(
                MemberAdded(
                    aggregate_id=str(conversation.pk),
                    conversation_id=conversation.pk,
                    user_id=user_id,
                    added_by=invitation.invited_by,
                )
            )
            stream = conversation_stream(conversation.pk)
            # "at" places the frame in time: a resume shows it only to members who had joined.
            change = {
                "user_id": user_id,
                "by": invitation.invited_by,
                "at": member.joined_at.isoformat(),
            }

            def announce() -> None:
                subscribe(user_id, stream)
                push(stream, "member.added", change)

            transaction.on_commit(announce, using=DB)
    return conversation


def invitation_decline(*, invitation_id: int, user_id: int) -> None:
    with transaction.atomic(using=DB):
        invitation = _locked_invitation(invitation_id, user_id)
        invitation_close(invitation, status=Invitation.Status.DECLINED)
