"""identity's plain Django views (outside the versioned API)."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from apps.identity import selectors


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    """The public keys that verify access tokens, for any service (RFC 7517 JWK Set)."""
    response = JsonResponse(selectors.jwks_get())
    response["Cache-Control"] = "public, max-age=60"
    return response
