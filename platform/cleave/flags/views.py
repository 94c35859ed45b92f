"""GET /api/v1/flags: every client-visible flag evaluated for the caller, with an ETag."""

from __future__ import annotations

import hashlib
import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from ninja import Query, Router, Schema
from pydantic import Field

from cleave.auth.principal import Principal
from cleave.auth.tokens import bearer_token, verify_access_token
from cleave.errors import ValidationFailed
from cleave.flags.client import context_for
from cleave.flags.definitions import current_version, definitions
from cleave.flags.evaluation import evaluate

router = Router(tags=["flags"])


class FlagsQuery(Schema):
    device_id: str | None = Field(
        default=None, max_length=128, description="Required before login."
    )
    platform: str | None = Field(default=None, pattern="^(ios|android|web)$")
    app_version: str | None = Field(default=None, max_length=32)


class FlagValue(Schema):
    value: bool
    variant: str | None
    reason: str


class FlagsOut(Schema):
    version: int
    flags: dict[str, FlagValue]


def _principal(request: HttpRequest) -> Principal | None:
    token = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
    return verify_access_token(token) if token else None


@router.get("", response=FlagsOut, auth=None)
def flags_get(request: HttpRequest, query: Query[FlagsQuery]) -> HttpResponse:
    """Signed in: evaluated for the user. Before login: for `device_id`. `If-None-Match` → 304."""
    principal = _principal(request)
    if principal is None and not query.device_id:
        raise ValidationFailed(
            details=[
                {"loc": ["query", "device_id"], "msg": "required before login", "type": "missing"}
            ]
        )
    context = context_for(
        principal, device_id=query.device_id, platform=query.platform, app_version=query.app_version
    )
    version = current_version()
    values = {}
    for name, definition in sorted(definitions().items()):
        if definition.client_visible:
            result = evaluate(name, context)
            values[name] = {
                "value": result.value,
                "variant": result.variant,
                "reason": result.reason,
            }
    body = json.dumps({"version": version, "flags": values}, separators=(",", ":"))
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    if etag in {tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")}:
        response = HttpResponse(status=304)
    else:
        response = JsonResponse(json.loads(body))
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response
