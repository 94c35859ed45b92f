"""recommendations's mobile API under /api/v1/recommendations (docs/recommendations.md).

Every read answers 200 (or 304): when the stores fail it answers the fallback, marked
`degraded`. No `from __future__ import annotations`: ninja resolves `Query[...]` from the
evaluated annotation."""

import hashlib
import json
from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Status
from pydantic import TypeAdapter

from apps.recommendations.config import setting
from apps.recommendations.error_codes import InvalidCell, ShowNotFound
from apps.recommendations.schemas import (
    FeedbackIn,
    FeedbackOut,
    ItemOut,
    LimitIn,
    ListOut,
    LocationIn,
    NearbyOut,
)
from apps.recommendations.services import experiments, lists
from apps.recommendations.services.serving import Served
from cleave.auth.errors import RevocationUnknown
from cleave.auth.ninja_auth import BearerAuth, bearer, principal_of
from cleave.auth.principal import Principal
from cleave.openapi.errors import raises

router = Router(tags=["recommendations"])
UNVERIFIED = "unverified"  # request.auth of a caller whose session cannot be checked now
# A list's items, validated and rendered to JSON once per process: through the schemas on every
# read they were a third of a cache hit's CPU (pyinstrument: ninja's validator, per item). A
# list's ETag stands for its items, so (ETag, limit) names the rendering.
_ITEMS = TypeAdapter(list[ItemOut])
_rendered: dict[tuple[str, int | None], str] = {}
RENDERED_MAX = 4096


class PersonalAuth(BearerAuth):
    """A bearer token; while the stores that say whether its session was revoked are down,
    the caller is let through as unverified and gets the anonymous list, never a personal one."""

    def __init__(self) -> None:
        super().__init__()
        # What the OpenAPI document lists: never revocation_unknown, which becomes the
        # anonymous list here.
        self.raises = tuple(error for error in self.raises if error is not RevocationUnknown)

    def revocation_wait(self) -> float | None:
        # The read's deadline: with Redis down the sessions' owner is asked, and with its
        # database down too it would wait for the pool's timeout (10 s), not fail at once.
        return float(setting("DEADLINE_SECONDS"))

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        try:
            return super().authenticate(request, token)
        except (RevocationUnknown, DatabaseError):
            return UNVERIFIED


def _items_json(served: Served, limit: int | None = None) -> str:
    key = (served.etag, limit)
    rendered = _rendered.get(key)
    if rendered is None:
        items = served.value if limit is None else served.value[:limit]
        rendered = _ITEMS.dump_json(_ITEMS.validate_python(items)).decode()
        if len(_rendered) >= RENDERED_MAX:
            _rendered.clear()
        _rendered[key] = rendered
    return rendered


def _list_body(served: Served, limit: int, *, variant: str | None, degraded: bool) -> str:
    """ListOut's JSON, as ListOut(...).model_dump_json() writes it."""
    items = _items_json(served, limit)
    return f'{{"items":{items},"variant":{json.dumps(variant)},"degraded":{json.dumps(degraded)}}}'


def _answer(request: HttpRequest, body: str, served: Served, *, public: bool) -> HttpResponse:
    # The entry's ETag stands for its items; the degraded flag is part of the body too.
    etag = served.etag
    if served.degraded:
        etag = '"' + hashlib.sha256(f"degraded:{etag}".encode()).hexdigest()[:32] + '"'
    if etag in {tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")}:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    if served.degraded:
        response["Cache-Control"] = "no-store"  # a degraded answer is never kept downstream
    elif public:
        response["Cache-Control"] = "public, max-age=5"
    else:
        response["Cache-Control"] = "private, no-cache"
    return response


@router.get("", response=ListOut, auth=PersonalAuth())
def recommendation_list(request: HttpRequest, query: Query[LimitIn]) -> HttpResponse:
    """Upcoming shows for you, each with the reasons it is there. Send the last ETag as
    If-None-Match: 304 when the list did not change."""
    if request.auth == UNVERIFIED:  # type: ignore[attr-defined]
        served = lists.popular_serve()
        degraded = Served(served.value, served.etag, degraded=True, source=served.source)
        body = _list_body(served, query.limit, variant=None, degraded=True)
        return _answer(request, body, degraded, public=False)
    principal: Principal = principal_of(request)
    variant = experiments.variant_for(principal)
    served = lists.for_you_serve(user_id=principal.user_id, variant=variant)
    if not served.degraded:
        experiments.exposure_record(user_id=principal.user_id, variant=variant)
    body = _list_body(served, query.limit, variant=variant, degraded=served.degraded)
    return _answer(request, body, served, public=False)


@router.get("/nearby", response=NearbyOut, auth=None)
def recommendation_nearby(request: HttpRequest, query: Query[LocationIn]) -> HttpResponse:
    """Popular upcoming shows around a point, for anyone: answered as
    /nearby/cells/{cell} for the point's resolution-8 H3 cell (Content-Location names it)."""
    cell = lists.cell_of(lat=query.lat, lon=query.lon)
    response = _nearby(request, cell)
    response["Content-Location"] = f"/api/v1/recommendations/nearby/cells/{cell}"
    return response


@router.get("/nearby/cells/{cell}", response=NearbyOut, auth=None)
@raises(InvalidCell)
def recommendation_nearby_cell(request: HttpRequest, cell: str) -> HttpResponse:
    """Popular upcoming shows in a resolution-8 H3 cell and its neighbours, for anyone: the
    app may send the cell instead of its coordinates, and caches key by it."""
    if not lists.is_area_cell(cell):
        raise InvalidCell()
    return _nearby(request, cell)


def _nearby(request: HttpRequest, cell: str) -> HttpResponse:
    served = lists.nearby_serve(cell=cell)
    return _answer(request, _nearby_body(served, cell), served, public=True)


def _nearby_body(served: Served, cell: str) -> str:
    """NearbyOut's JSON, as NearbyOut(...).model_dump_json() writes it."""
    items, degraded = _items_json(served), json.dumps(served.degraded)
    return f'{{"cell":{json.dumps(cell)},"items":{items},"degraded":{degraded}}}'


@router.post("/feedback", response={201: FeedbackOut}, auth=bearer)
@raises(ShowNotFound)
def feedback_create(request: HttpRequest, payload: FeedbackIn) -> Status[FeedbackOut]:
    """An impression, click or dismissal of a recommended show, counted for your variant; a
    dismissed show leaves your list."""
    principal = principal_of(request)
    variant = experiments.variant_for(principal)
    experiments.feedback_record(
        user_id=principal.user_id, variant=variant, show_id=payload.show_id, kind=payload.kind
    )
    return Status(201, FeedbackOut(show_id=payload.show_id, kind=payload.kind, variant=variant))
