"""The one error envelope: `{"error": {"code", "message", "details", "request_id"}}`, for every
error under /api/.

`request_id` is the request's id (the one echoed in `X-Request-ID`), so a user's bug report can
quote it; it sits beside `details`, which is a list for validation errors.

Each API stack has its own handler (ninja, DRF) that renders through `error_response`; the
middleware here is the net under them, turning whatever else answered with an error under
/api/ (Django's 404 and 500 pages, a bare 405) into the same envelope.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse

from cleave.errors import DEFAULT_MESSAGES, CleaveError, ErrorCode, code_for_status
from cleave.gateway.request_id import current_request_id

logger = logging.getLogger("cleave.errors")

API_PREFIX = "/api/"
_MARK = "_cleave_envelope"
_BODY_HEADERS = frozenset(
    {"content-type", "content-length", "content-encoding", "content-language"}
)


def error_response(
    *, code: str, status: int, message: str | None = None, details: Any = None
) -> JsonResponse:
    """A JSON error response in the envelope, marked so the middleware leaves it alone."""
    body = {
        "error": {
            "code": code,
            "message": message or DEFAULT_MESSAGES.get(code, "Request failed."),
            "details": details,
            "request_id": current_request_id.get(),
        }
    }
    response = JsonResponse(body, status=status)
    response["Content-Length"] = str(len(response.content))
    setattr(response, _MARK, True)
    return response


def response_for_error(error: CleaveError) -> JsonResponse:
    response = error_response(
        code=error.code, status=error.status, message=error.message, details=error.details
    )
    if isinstance(error.details, dict) and "retry_after" in error.details:
        response["Retry-After"] = str(error.details["retry_after"])
    return response


def response_for_unhandled(request: HttpRequest, exc: BaseException) -> JsonResponse:
    """Log an unexpected exception with its request id; answer 500 without leaking it."""
    logger.error(
        "Unhandled %s on %s %s",
        type(exc).__name__,
        request.method,
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(code=ErrorCode.INTERNAL_ERROR, status=500)


def response_for_exception(request: HttpRequest, exc: Exception) -> JsonResponse:
    """The envelope for any exception a view under /api/ raised."""
    if isinstance(exc, CleaveError):
        return response_for_error(exc)
    if isinstance(exc, Http404):
        return error_response(code=ErrorCode.NOT_FOUND, status=404)
    if isinstance(exc, PermissionDenied):
        return error_response(code=ErrorCode.FORBIDDEN, status=403)
    if isinstance(exc, RequestDataTooBig):
        return error_response(code=ErrorCode.PAYLOAD_TOO_LARGE, status=413)
    if _dependency_down(exc):
        # The database, cache or broker is unreachable: not a bug, and worth a retry.
        logger.warning("%s on %s: %s", type(exc).__name__, request.path, exc)
        response = error_response(code=ErrorCode.SERVICE_UNAVAILABLE, status=503)
        response["Retry-After"] = "1"
        return response
    return response_for_unhandled(request, exc)


def _dependency_down(exc: BaseException) -> bool:
    """A lost connection to PostgreSQL or Redis (not a query error: that is still a bug)."""
    from django.db import InterfaceError, OperationalError
    from psycopg_pool import PoolTimeout
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    # psycopg reports a refused or dropped connection as OperationalError; the pool's wait for
    # a connection ends in PoolTimeout.
    return isinstance(
        exc,
        RedisConnectionError | RedisTimeoutError | InterfaceError | OperationalError | PoolTimeout,
    )


def is_api_path(path: str) -> bool:
    # /internal/ is an API too (other services call it): its 404s and 405s are envelopes.
    return path.startswith((API_PREFIX, "/internal/"))


class ErrorEnvelopeMiddleware:
    """Puts every error response under /api/ and /internal/ into the envelope, whoever
    produced it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or getattr(response, _MARK, False)
            or not is_api_path(request.path)
        ):
            return response
        code = code_for_status(response.status_code)
        enveloped = error_response(code=code, status=response.status_code)
        # Keep every header but the body's own: Allow, Retry-After, the request id, and what the
        # middleware inside this one added (nosniff, referrer policy, HSTS…) — a 404 under
        # /api/ once lost those.
        for header, value in response.items():
            if header.lower() not in _BODY_HEADERS:
                enveloped[header] = value
        return enveloped

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        return response_for_exception(request, exc)
