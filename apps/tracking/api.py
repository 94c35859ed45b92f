"""tracking's mobile API under /api/v1/tracking: consent, uploads, the read models, shares."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Router, Status
from ninja.pagination import paginate

from apps.tracking import selectors
from apps.tracking.domain import geo
from apps.tracking.error_codes import (
    BatchConflict,
    ConsentRequired,
    InvalidCell,
    InvalidShare,
    LocationNotFound,
    ShareNotFound,
    TripNotFound,
)
from apps.tracking.models import Share, Trip
from apps.tracking.schemas import (
    AreasOut,
    BatchIn,
    ConsentIn,
    ConsentOut,
    LocationOut,
    ShareCreateIn,
    ShareOut,
    TripDetailOut,
    TripOut,
)
from apps.tracking.services import consent, ingest, shares
from cleave.api import Id
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.eventstore import WrongExpectedVersion
from cleave.openapi.errors import raises
from cleave.pagination import CursorPagination
from contracts.tracking.frames import BatchResult

router = Router(auth=bearer, tags=["tracking"])
AREA_HOURS = 24  # "popular near me" counts the last day's visitors


@router.get("/consent", response=ConsentOut)
def consent_get(request: HttpRequest) -> dict[str, Any]:
    found = selectors.consent_get(user_id=principal_of(request).user_id)
    return {"granted": bool(found and found.granted), "changed_at": found and found.changed_at}


@router.put("/consent", response=ConsentOut)
def consent_put(request: HttpRequest, payload: ConsentIn) -> Any:
    user_id = principal_of(request).user_id
    return consent.consent_set(
        user_id=user_id, granted=payload.granted, changed_by=user_id, source="api"
    )


@router.post("/batches", response=BatchResult)
@raises(ConsentRequired, BatchConflict, WrongExpectedVersion)
def batch_upload(request: HttpRequest, payload: BatchIn) -> dict[str, Any]:
    principal = principal_of(request)
    return ingest.batch_ingest(
        user_id=principal.user_id,
        session_id=principal.session_id,
        batch_id=payload.batch_id,
        device_time=payload.device_time,
        points=payload.points,
        actions=payload.actions,
    )


@router.get("/location", response=LocationOut)
@raises(LocationNotFound)
def location_get(request: HttpRequest) -> Any:
    found = selectors.last_location_get(user_id=principal_of(request).user_id)
    if found is None:
        raise LocationNotFound()
    return found


@router.get("/trips", response=list[TripOut])
@paginate(CursorPagination, ordering=("-started_at", "-id"))
def trip_list(request: HttpRequest) -> QuerySet[Trip]:
    return selectors.trip_list(user_id=principal_of(request).user_id)


@router.get("/trips/{trip_id}", response=TripDetailOut)
@raises(TripNotFound)
def trip_get(request: HttpRequest, trip_id: str) -> Any:
    found = selectors.trip_get(user_id=principal_of(request).user_id, trip_id=trip_id[:40])
    if found is None:
        raise TripNotFound()
    return found


@router.get("/areas/{cell}", response=AreasOut)
@raises(InvalidCell)
def area_get(request: HttpRequest, cell: str) -> dict[str, Any]:
    """Visitors of the last day in a resolution-8 H3 cell and its neighbours: the app sends
    the cell it computed, never its coordinates."""
    if not geo.is_area_cell(cell):
        raise InvalidCell()
    since = timezone.now() - timedelta(hours=AREA_HOURS)
    counts = selectors.area_counts(cells=geo.neighbourhood(cell), since=since)
    cells = [{"cell": c, "visitors": n} for c, n in counts.items()]
    return {"cell": cell, "since": since, "cells": cells}


@router.post("/shares", response={201: ShareOut})
@raises(ConsentRequired, InvalidShare)
def share_create(request: HttpRequest, payload: ShareCreateIn) -> Status[Share]:
    share = shares.share_create(
        sharer_id=principal_of(request).user_id,
        minutes=payload.minutes,
        recipient_id=payload.user_id,
        conversation_id=payload.conversation_id,
    )
    return Status(201, share)


@router.get("/shares", response=list[ShareOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def share_list(request: HttpRequest) -> QuerySet[Share]:
    return selectors.share_list(sharer_id=principal_of(request).user_id)


@router.delete("/shares/{share_id}", response=ShareOut)
@raises(ShareNotFound)
def share_revoke(request: HttpRequest, share_id: Id) -> Share:
    return shares.share_revoke(sharer_id=principal_of(request).user_id, share_id=share_id)
