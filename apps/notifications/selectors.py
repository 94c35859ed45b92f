"""Reads of the notifications context."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from apps.notifications.models import InboxItem, Mute, Preferences
from cleave.databases import database_for

DB = database_for("notifications")


def inbox_item_list(*, user_id: int) -> QuerySet[InboxItem]:
    return InboxItem.objects.using(DB).filter(user_id=user_id)


def inbox_item_changed_list(*, user_id: int, since: datetime) -> QuerySet[InboxItem]:
    """Items created or read after `since`, oldest change first."""
    return (
        inbox_item_list(user_id=user_id).filter(changed_at__gt=since).order_by("changed_at", "pk")
    )


def inbox_unread_count_get(*, user_id: int) -> int:
    return inbox_item_list(user_id=user_id).filter(read_at__isnull=True).count()


def inbox_item_exists(*, user_id: int, item_id: int) -> bool:
    return inbox_item_list(user_id=user_id).filter(pk=item_id).exists()


def preferences_get(*, user_id: int) -> tuple[Preferences | None, list[int]]:
    prefs = Preferences.objects.using(DB).filter(user_id=user_id).first()
    muted = Mute.objects.using(DB).filter(user_id=user_id).values_list("conversation_id", flat=True)
    return prefs, sorted(muted)
