"""The account's sessions (one per device) and the current device's push token."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Router, Status
from ninja.pagination import paginate

from apps.identity import selectors
from apps.identity.error_codes import SessionNotFound
from apps.identity.models import Session
from apps.identity.schemas import DeviceOut, PushTokenIn, SessionOut
from apps.identity.services import sessions
from cleave.auth.errors import SessionRevoked
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.openapi.errors import raises
from cleave.pagination import CursorPagination

router = Router(auth=bearer)


@router.get("/sessions", response=list[SessionOut])
@paginate(CursorPagination, ordering=("-last_seen_at", "-id"))
def sessions_list(request: HttpRequest) -> QuerySet[Session]:
    return selectors.session_list(user_id=principal_of(request).user_id)


@router.delete("/sessions/{session_id}", response={204: None})
@raises(SessionNotFound)
def session_revoke(request: HttpRequest, session_id: UUID) -> Status[None]:
    """Sign one of your sessions out (another user's session is simply not found)."""
    if not sessions.session_revoke(
        user_id=principal_of(request).user_id, session_id=str(session_id)
    ):
        raise SessionNotFound()
    return Status(204, None)


@router.put("/devices/current/push-token", response=DeviceOut)
@raises(SessionRevoked)
def push_token_set(request: HttpRequest, payload: PushTokenIn) -> DeviceOut:
    device = sessions.device_push_token_set(
        session_id=principal_of(request).session_id, push_token=payload.push_token
    )
    return DeviceOut(
        device_id=device.device_id, platform=device.platform, app_version=device.app_version
    )
