"""A throwaway API with one deprecated endpoint, mounted as a context's router would be."""

from __future__ import annotations

from datetime import date

from django.http import HttpRequest
from django.urls import path
from ninja import Router

from cleave.api import build_api
from cleave.gateway.deprecation import deprecated, mark_deprecated_operations
from cleave.urls import urlpatterns as cleave_urlpatterns

api = build_api(title="deprecation test API", urls_namespace="deprecation-test")
router = Router()


@router.get("/old", auth=None)
@deprecated(since=date(2026, 12, 1), sunset=date(2027, 6, 1), link="https://example.com/migrate")
def old(request: HttpRequest, name: str = "x") -> dict[str, str]:
    return {"hello": name}


@router.get("/current", auth=None)
def current(request: HttpRequest) -> dict[str, str]:
    return {"hello": "now"}


mark_deprecated_operations(router)
api.add_router("/things", router)

urlpatterns = [path("api/v1/test/", api.urls), *cleave_urlpatterns]
