"""Reads of the messaging context."""

from __future__ import annotations

from datetime import datetime

from django.db.models import (
    Count,
    DateTimeField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from apps.messaging.models import (
    Block,
    Conversation,
    ConversationTombstone,
    Invitation,
    Member,
    Message,
)
from cleave.databases import database_for

DB = database_for("messaging")


def conversation_list(*, user_id: int) -> QuerySet[Conversation]:
    """The user's conversations with `unread` (others' live messages past their read mark) and
    `activity` (last message, or creation) to order by."""
    mine = Member.objects.using(DB).filter(conversation=OuterRef("pk"), user_id=user_id)
    unread = (
        Message.objects.using(DB)
        .filter(
            conversation=OuterRef("pk"),
            seq__gt=OuterRef("last_read_seq"),
            deleted_at__isnull=True,
        )
        .exclude(sender_id=user_id)
        .values("conversation")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return (
        Conversation.objects.using(DB)
        .filter(members__user_id=user_id)
        .annotate(last_read_seq=Subquery(mine.values("last_read_seq")[:1]))
        .annotate(
            unread=Coalesce(Subquery(unread[:1], output_field=IntegerField()), Value(0)),
            # Never null (created_at is not): the cursor paginator may order by it.
            activity=Coalesce("last_message_at", "created_at", output_field=DateTimeField()),
        )
        .prefetch_related("members")
    )


def conversation_changed_list(*, user_id: int, since: datetime) -> QuerySet[Conversation]:
    """The user's conversations whose list entry changed after `since` (the conversation, or
    the user's own membership: joined, read mark), as `conversation_list` annotates them."""
    mine = Member.objects.using(DB).filter(conversation=OuterRef("pk"), user_id=user_id)
    return (
        conversation_list(user_id=user_id)
        .annotate(my_changed_at=Subquery(mine.values("changed_at")[:1]))
        .filter(Q(changed_at__gt=since) | Q(my_changed_at__gt=since))
        .order_by("pk")
    )


def conversation_gone_list(*, user_id: int, since: datetime) -> list[int]:
    """Conversations that left the user's list after `since` and are not in it again."""
    gone = ConversationTombstone.objects.using(DB).filter(user_id=user_id, removed_at__gt=since)
    still = Member.objects.using(DB).filter(user_id=user_id).values("conversation_id")
    return sorted(gone.exclude(conversation_id__in=still).values_list("conversation_id", flat=True))


def conversation_get(*, conversation_id: int, user_id: int) -> Conversation | None:
    """The conversation if `user_id` is a member; None otherwise (also when it does not exist)."""
    return (
        Conversation.objects.using(DB)
        .filter(pk=conversation_id, members__user_id=user_id)
        .prefetch_related("members")
        .first()
    )


def member_id_list(*, conversation_id: int) -> list[int]:
    return list(
        Member.objects.using(DB)
        .filter(conversation_id=conversation_id)
        .order_by("joined_at", "pk")
        .values_list("user_id", flat=True)
    )


def member_exists(*, conversation_id: int, user_id: int) -> bool:
    return (
        Member.objects.using(DB).filter(conversation_id=conversation_id, user_id=user_id).exists()
    )


def member_pairs_list(*, conversation_ids: list[int], user_ids: list[int]) -> dict[int, list[int]]:
    """Of these users, the members of each of these conversations (by conversation id): one
    query, however many pairs."""
    rows = (
        Member.objects.using(DB)
        .filter(conversation_id__in=conversation_ids, user_id__in=user_ids)
        .order_by("conversation_id", "user_id")
        .values_list("conversation_id", "user_id")
    )
    found: dict[int, list[int]] = {}
    for conversation_id, user_id in rows:
        found.setdefault(conversation_id, []).append(user_id)
    return found


def membership_list(*, user_id: int, conversation_ids: list[int]) -> dict[int, Member]:
    """The user's memberships among these conversations, by conversation id: one query."""
    rows = Member.objects.using(DB).filter(user_id=user_id, conversation_id__in=conversation_ids)
    return {member.conversation_id: member for member in rows}


def membership_get(*, conversation_id: int, user_id: int) -> Member | None:
    return Member.objects.using(DB).filter(conversation_id=conversation_id, user_id=user_id).first()


# Below SQLite's default limit of bound variables (32,766), well above a page of ids.
_IDS_PER_QUERY = 10_000


def message_list_by_id(*, message_ids: list[int]) -> dict[int, Message]:
    """Messages as they are now, by id (a resume resolves retained frames against them)."""
    found: dict[int, Message] = {}
    for start in range(0, len(message_ids), _IDS_PER_QUERY):
        chunk = message_ids[start : start + _IDS_PER_QUERY]
        found.update((m.pk, m) for m in Message.objects.using(DB).filter(pk__in=chunk))
    return found


def conversation_id_list_by_user(*, user_ids: list[int]) -> dict[int, list[int]]:
    """The conversations of each of these users, in one query (sockets reconnecting together)."""
    found: dict[int, list[int]] = {user_id: [] for user_id in user_ids}
    rows = Member.objects.using(DB).filter(user_id__in=user_ids)
    for user_id, conversation_id in rows.values_list("user_id", "conversation_id"):
        found[user_id].append(conversation_id)
    return found


def message_list(
    *,
    conversation_id: int,
    since_seq: int,
    after_seq: int | None,
    before_seq: int | None,
    limit: int,
) -> tuple[list[Message], bool]:
    """Up to `limit` messages in seq order: after `after_seq`, or the latest before `before_seq`
    (the latest of all when neither is given); and whether more lie in that direction. Nothing
    at or before `since_seq` (the reader's `joined_seq`) is ever returned."""
    messages = Message.objects.using(DB).filter(conversation_id=conversation_id, seq__gt=since_seq)
    if after_seq is not None:
        rows = list(messages.filter(seq__gt=after_seq).order_by("seq")[: limit + 1])
        return rows[:limit], len(rows) > limit
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    rows = list(messages.order_by("-seq")[: limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


def invitation_list(*, user_id: int) -> QuerySet[Invitation]:
    """The user's open invitations (with their group, for its title in the same query)."""
    return (
        Invitation.objects.using(DB)
        .filter(user_id=user_id, status=Invitation.Status.PENDING)
        .select_related("conversation")
    )


def blocker_id_list(*, user_id: int, among: set[int]) -> set[int]:
    """Who of `among` blocked `user_id` (messaging's copy of identity's blocks)."""
    return set(
        Block.objects.using(DB)
        .filter(blocked_id=user_id, blocker_id__in=among)
        .values_list("blocker_id", flat=True)
    )


def block_exists_either_way(*, user_id: int, other_id: int) -> bool:
    """Whether either of the two blocked the other."""
    return (
        Block.objects.using(DB)
        .filter(
            Q(blocker_id=user_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=user_id)
        )
        .exists()
    )
