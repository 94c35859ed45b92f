"""One JSON line per request (real mode): what a support team searches by.

`cleave.access` logs method, route template, status, duration, user id and app version; the
log filters add the request id and the trace id (the app's `traceparent` even with tracing
off), so one user's report leads to every line of their request.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cleave.gateway.client_version import client_version_of
from cleave.observability.http import UNMATCHED

logger = logging.getLogger("cleave.access")


def user_id_of(request: HttpRequest) -> int | None:
    """The caller's user id: the bearer token's, or a signed-in staff member's (admin, ops API)
    when the view already loaded them — never a session query of the log's own."""
    principal = getattr(request, "principal", None)
    if principal is not None:
        return int(principal.user_id)
    user = getattr(request, "_cached_user", None)
    if user is not None and user.is_authenticated:
        return int(user.pk)
    return None


class AccessLogMiddleware:
    """Logs each request once it has been answered; sits inside RequestIdMiddleware, so the
    line carries the request id and the trace id."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = request.resolver_match
        client = client_version_of(request)
        logger.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "http_method": request.method,
                "route": match.route if match is not None else UNMATCHED,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "user_id": user_id_of(request),
                "app_version": str(client) if client else None,
            },
        )
        return response
