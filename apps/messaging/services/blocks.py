"""messaging's copy of identity's blocks, and what a block means here.

Policy (docs/api.md, "Blocking"): a blocked user cannot start a direct conversation with the
blocker, nor invite them to a group; their open invitations to the blocker are withdrawn. A
direct conversation that already exists stays (with its history) but is read-only for both
while the block stands: the blocked party cannot write to someone who blocked them, and the
blocker cannot write to someone they chose not to hear from. Groups are not affected: both may
stay in one (the blocker can leave it). Refusals say `user_unavailable`, never who blocked whom.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.messaging import selectors
from apps.messaging.error_codes import UserUnavailable
from apps.messaging.models import Block, Conversation, Invitation
from cleave.databases import database_for
from cleave.events import publish
from contracts.messaging import InvitationDeclined

DB = database_for("messaging")


def block_record(*, blocker_id: int, blocked_id: int) -> None:
    """identity says `blocker_id` blocked `blocked_id` (idempotent)."""
    with transaction.atomic(using=DB):
        Block.objects.using(DB).get_or_create(blocker_id=blocker_id, blocked_id=blocked_id)
        pending = (
            Invitation.objects.using(DB)
            .select_for_update()
            .filter(user_id=blocker_id, invited_by=blocked_id, status=Invitation.Status.PENDING)
        )
        for invitation in pending.order_by("pk"):
            invitation_close(invitation, status=Invitation.Status.DECLINED)


def block_forget(*, blocker_id: int, blocked_id: int) -> None:
    """identity says the block was lifted (idempotent)."""
    with transaction.atomic(using=DB):
        Block.objects.using(DB).filter(blocker_id=blocker_id, blocked_id=blocked_id).delete()


def user_blocks_erase(*, user_id: int) -> None:
    """An account was deleted: its blocks (made and received) and open invitations go."""
    with transaction.atomic(using=DB):
        Block.objects.using(DB).filter(blocker_id=user_id).delete()
        Block.objects.using(DB).filter(blocked_id=user_id).delete()
        pending = (
            Invitation.objects.using(DB)
            .select_for_update()
            .filter(user_id=user_id, status=Invitation.Status.PENDING)
        )
        for invitation in pending.order_by("pk"):
            invitation_close(invitation, status=Invitation.Status.DECLINED)


def invitation_close(invitation: Invitation, *, status: str) -> None:
    """Answer an open invitation; a decline is published. The caller holds a transaction and
    the invitation's row lock."""
    invitation.status, invitation.answered_at = status, timezone.now()
    invitation.save(using=DB, update_fields=["status", "answered_at"])
    if status == Invitation.Status.DECLINED:
        publish(
            InvitationDeclined(
                aggregate_id=str(invitation.conversation_id),
                invitation_id=invitation.pk,
                conversation_id=invitation.conversation_id,
                user_id=invitation.user_id,
            )
        )


def refuse_if_blocked_by(*, actor_id: int, user_ids: set[int]) -> None:
    """`actor_id` may not reach anyone of `user_ids` who blocked them (invitations)."""
    if selectors.blocker_id_list(user_id=actor_id, among=user_ids - {actor_id}):
        raise UserUnavailable()


def direct_pair(conversation: Conversation) -> tuple[int, int]:
    low, _, high = (conversation.direct_key or "").partition(":")
    return int(low), int(high)


def refuse_if_direct_blocked(conversation: Conversation) -> None:
    """A direct conversation is read-only while either of its two blocked the other."""
    if conversation.kind != Conversation.Kind.DIRECT or not conversation.direct_key:
        return
    low, high = direct_pair(conversation)
    if selectors.block_exists_either_way(user_id=low, other_id=high):
        raise UserUnavailable()
