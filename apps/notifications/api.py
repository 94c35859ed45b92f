"""The in-app inbox and notification preferences under /api/v1/notifications."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Query, Router, Schema
from ninja.pagination import paginate
from pydantic import Field, field_validator

from apps.notifications import selectors, services
from apps.notifications.models import InboxItem
from cleave import sync
from cleave.api import Id, RequestSchema, StrictId
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.errors import NotFound
from cleave.openapi.errors import raises
from cleave.pagination import CursorPagination
from cleave.sync import SyncOut

router = Router(auth=bearer, tags=["notifications"])


class InboxItemOut(Schema):
    id: int
    kind: str
    title: str
    body: str
    data: dict[str, object]
    created_at: datetime.datetime
    read: bool

    @staticmethod
    def resolve_read(item: InboxItem) -> bool:
        return item.read_at is not None


class BadgeOut(Schema):
    unread: int


class PreferencesOut(Schema):
    timezone: str
    quiet_start: datetime.time | None
    quiet_end: datetime.time | None
    muted_conversations: list[int]


class PreferencesIn(RequestSchema):
    quiet_start: datetime.time | None = Field(default=None, description="Local time, no offset.")
    quiet_end: datetime.time | None = Field(default=None, description="Local time, no offset.")
    mute: list[StrictId] = Field(default_factory=list, max_length=500)
    unmute: list[StrictId] = Field(default_factory=list, max_length=500)

    @field_validator("quiet_start", "quiet_end")
    @classmethod
    def _local(cls, value: datetime.time | None) -> datetime.time | None:
        # Quiet hours are wall-clock times in the user's own time zone.
        if value is not None and value.tzinfo is not None:
            raise ValueError("a local time without an offset, e.g. 22:00")
        return value


class ItemNotFound(NotFound):
    code = "notification_not_found"
    message_template = "No such notification."


@router.get("", response=list[InboxItemOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def inbox_list(request: HttpRequest) -> QuerySet[InboxItem]:
    return selectors.inbox_item_list(user_id=principal_of(request).user_id)


class InboxSyncOut(SyncOut[InboxItemOut]):
    """What changed since the token, the ids gone since, and the next token."""


class SyncIn(Schema):
    since: str | None = Field(
        default=None, max_length=40, description="The last answer's sync_token; none to start."
    )


@router.get("/sync", response=InboxSyncOut)
@raises(sync.SyncExpired)
def inbox_sync(request: HttpRequest, query: Query[SyncIn]) -> dict[str, Any]:
    """Delta sync of the inbox: items created or read since the token (docs/api.md, "Delta
    sync"). Inbox items are never deleted one by one, so `deleted` is empty; 410
    `sync_expired`: refetch the inbox."""
    token = sync.next_token()
    if query.since is None:
        return {"changed": [], "deleted": [], "sync_token": token}
    since = sync.since_of(query.since)
    user_id = principal_of(request).user_id
    changed = list(
        selectors.inbox_item_changed_list(user_id=user_id, since=since)[: sync.MAX_CHANGES + 1]
    )
    sync.check_size(len(changed))
    return {"changed": changed, "deleted": [], "sync_token": token}


@router.get("/badge", response=BadgeOut)
def badge(request: HttpRequest) -> BadgeOut:
    unread = InboxItem.objects.filter(
        user_id=principal_of(request).user_id, read_at__isnull=True
    ).count()
    return BadgeOut(unread=unread)


@router.post("/read-all", response=BadgeOut)
def read_all(request: HttpRequest) -> BadgeOut:
    services.inbox_read(user_id=principal_of(request).user_id, item_id=None)
    return BadgeOut(unread=0)


@router.post("/{item_id}/read", response=BadgeOut)
@raises(ItemNotFound)
def read_one(request: HttpRequest, item_id: Id) -> BadgeOut:
    user_id = principal_of(request).user_id
    if not selectors.inbox_item_exists(user_id=user_id, item_id=item_id):
        raise ItemNotFound()
    services.inbox_read(user_id=user_id, item_id=item_id)
    return BadgeOut(unread=selectors.inbox_unread_count_get(user_id=user_id))


def _preferences_out(user_id: int) -> PreferencesOut:
    prefs, muted = selectors.preferences_get(user_id=user_id)
    return PreferencesOut(
        timezone=prefs.timezone if prefs else "UTC",
        quiet_start=prefs.quiet_start if prefs else None,
        quiet_end=prefs.quiet_end if prefs else None,
        muted_conversations=muted,
    )


@router.get("/preferences", response=PreferencesOut)
def preferences_get(request: HttpRequest) -> PreferencesOut:
    return _preferences_out(principal_of(request).user_id)


@router.patch("/preferences", response=PreferencesOut)
def preferences_update(request: HttpRequest, payload: PreferencesIn) -> PreferencesOut:
    user_id = principal_of(request).user_id
    # PATCH: quiet hours change only when the body names them (either end: they are a pair).
    touched = {"quiet_start", "quiet_end"} & payload.model_fields_set
    services.preferences_update(
        user_id=user_id,
        quiet_hours=(payload.quiet_start, payload.quiet_end) if touched else None,
        mute=payload.mute,
        unmute=payload.unmute,
    )
    return _preferences_out(user_id)
