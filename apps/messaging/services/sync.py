"""What delta sync (GET /api/v1/conversations/sync) reads: when a conversation changed for its
members, and tombstones of conversations that left someone's list."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from apps.messaging.models import Conversation, ConversationTombstone
from cleave.databases import database_for

DB = database_for("messaging")


def conversation_touch(conversation_id: int) -> None:
    """Mark the conversation changed for every member; the caller holds a transaction."""
    Conversation.objects.using(DB).filter(pk=conversation_id).update(changed_at=timezone.now())


def conversation_left(*, conversation_id: int, user_id: int) -> None:
    """The conversation left the user's list (tombstone) and the others' member lists changed;
    the caller holds a transaction."""
    ConversationTombstone.objects.using(DB).update_or_create(
        user_id=user_id,
        conversation_id=conversation_id,
        defaults={"removed_at": timezone.now()},
    )
    conversation_touch(conversation_id)


def tombstones_purge(cutoff: datetime) -> int:
    """Delete tombstones older than `cutoff` (cleave.sync keeps them 30 days)."""
    deleted, _ = ConversationTombstone.objects.using(DB).filter(removed_at__lt=cutoff).delete()
    return deleted
