"""DRF's EXCEPTION_HANDLER: the ops API's errors in the same envelope as the mobile API's."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from rest_framework import exceptions as drf

from cleave.errors import ErrorCode, code_for_status
from cleave.gateway.envelope import error_response, response_for_exception

_CODES: dict[type[drf.APIException], str] = {
    drf.ParseError: ErrorCode.MALFORMED_JSON,
    drf.ValidationError: ErrorCode.VALIDATION_ERROR,
    drf.NotAuthenticated: ErrorCode.UNAUTHORIZED,
    drf.AuthenticationFailed: ErrorCode.UNAUTHORIZED,
    drf.Throttled: ErrorCode.RATE_LIMITED,
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> HttpResponse:
    request = context["request"]
    if not isinstance(exc, drf.APIException):
        return response_for_exception(request._request, exc)
    code = _CODES.get(type(exc), code_for_status(exc.status_code))
    if isinstance(exc, drf.ValidationError):
        response = error_response(code=code, status=422, message=None, details=exc.detail)
    else:
        response = error_response(code=code, status=exc.status_code, message=str(exc.detail))
    # Throttled sets `wait` in __init__; djangorestframework-stubs do not declare it.
    wait = getattr(exc, "wait", None) if isinstance(exc, drf.Throttled) else None
    if wait is not None:
        response["Retry-After"] = str(int(wait))
    auth_header = getattr(exc, "auth_header", None)  # set by DRF's authentication failures
    if auth_header:
        response["WWW-Authenticate"] = auth_header
    return response
