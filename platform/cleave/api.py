"""The public mobile API: one django-ninja `NinjaAPI` under /api/v1/ that each context extends.

A context adds its router from its AppConfig.ready() with `register_router`, so the kernel
never imports a context.
"""

from __future__ import annotations

from typing import Annotated, Literal

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import ConfigDict, Field

from cleave.app_versions.policy import status_of
from cleave.gateway.client_version import client_version_of
from cleave.gateway.deprecation import mark_deprecated_operations
from cleave.gateway.hosts import origin
from cleave.gateway.ninja_errors import StrictJsonParser, install_error_handlers
from cleave.openapi.document import CleaveNinjaAPI

API_VERSION = "v1"


def build_api(*, title: str, urls_namespace: str) -> CleaveNinjaAPI:
    """A NinjaAPI with Cleave's JSON parser, error envelope and OpenAPI conventions (operation
    ids, documented errors: cleave.openapi.document), for the public API and test APIs."""
    api = CleaveNinjaAPI(
        title=title,
        version=API_VERSION,
        urls_namespace=urls_namespace,
        parser=StrictJsonParser(),
        description=(
            'Every error answers `{"error": {"code", "message", "details"}}` with a stable '
            "`code`; every response carries `X-Request-ID`."
        ),
    )
    install_error_handlers(api)
    return api


public_api = build_api(title="Cleave mobile API", urls_namespace="api-v1")


_mounted: set[int] = set()


def register_router(prefix: str, router: Router) -> None:
    """Mount a context's router at /api/v1/<prefix>; call from the context's AppConfig.ready().
    Idempotent: ready() runs again when tests build an isolated app registry."""
    if id(router) in _mounted:
        return
    mark_deprecated_operations(router)
    public_api.add_router(prefix, router)
    _mounted.add(id(router))


# The largest id a database column holds (bigint): larger ones are refused as invalid input,
# never passed to a query that would overflow.
ID_MAX = 2**63 - 1
Id = Annotated[int, Field(gt=0, le=ID_MAX)]
# Ids and integers inside JSON bodies: strict, so `true` is not user 1 and 1.0 or "1" are not
# ids either (pydantic's lax mode converts all three). Path and query parameters arrive as
# text and keep `Id`.
StrictId = Annotated[int, Field(gt=0, le=ID_MAX, strict=True)]


class RequestSchema(Schema):
    """Base of every request body: unknown fields are refused (validation_error names them)."""

    model_config = ConfigDict(extra="forbid")


class AppVersionOut(Schema):
    """What the app-version policy says of the calling app (its `X-Client-Version` header)."""

    status: Literal["ok", "update_recommended", "update_required"]
    minimum_version: str | None
    recommended_version: str | None
    store_url: str | None


class MetaOut(Schema):
    name: str
    api_version: str
    mode: str
    websocket_url: str
    app_version: AppVersionOut


@public_api.get("/meta", response=MetaOut, tags=["meta"], auth=None)
def meta(request: HttpRequest) -> MetaOut:
    """Where the app finds everything else: the WebSocket URL, so no client hard-codes a port;
    and whether this version of the app should (or must) be updated."""
    status, policy = status_of(client_version_of(request))
    return MetaOut(
        name="cleave",
        api_version=API_VERSION,
        mode=settings.CLEAVE_MODE,
        websocket_url=websocket_url_for(request),
        app_version=AppVersionOut(
            status=status,
            minimum_version=(policy.minimum_version or None) if policy else None,
            recommended_version=(policy.recommended_version or None) if policy else None,
            store_url=(policy.store_url or None) if policy else None,
        ),
    )


def websocket_url_for(request: HttpRequest) -> str:
    """The configured WebSocket URL, or this request's trusted origin (cleave.gateway.hosts:
    a Host that an explicit ALLOWED_HOSTS accepted, or a loopback one; never any other)."""
    if settings.CLEAVE_WEBSOCKET_URL:
        return str(settings.CLEAVE_WEBSOCKET_URL)
    return f"{origin(request, websocket=True)}/ws/v1"
