"""The one error type every layer raises and every API stack renders the same way.

Exception tree:

    CleaveError                       code, HTTP status, structured details
    ├── BadRequest                    400 bad_request
    │   └── MalformedBody             400 malformed_json
    ├── ValidationFailed              422 validation_error
    ├── Unauthorized                  401 unauthorized
    ├── Forbidden                     403 forbidden
    ├── NotFound                      404 not_found
    ├── MethodNotAllowed              405 method_not_allowed
    ├── Conflict                      409 conflict
    ├── PayloadTooLarge               413 payload_too_large
    ├── Throttled                     429 rate_limited
    └── ServiceUnavailable            503 service_unavailable

Free of Django so that `contracts/` may build its typed errors on it.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar


class ErrorCode(StrEnum):
    """The kernel's stable codes; contexts add their own in their `error_codes` module."""

    BAD_REQUEST = "bad_request"
    MALFORMED_JSON = "malformed_json"
    VALIDATION_ERROR = "validation_error"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    RATE_LIMITED = "rate_limited"
    INTERNAL_ERROR = "internal_error"
    SERVICE_UNAVAILABLE = "service_unavailable"


# What an error response without a code of its own (Django's 404 page, a bare 405) is called.
CODE_FOR_STATUS: dict[int, ErrorCode] = {
    400: ErrorCode.BAD_REQUEST,
    401: ErrorCode.UNAUTHORIZED,
    403: ErrorCode.FORBIDDEN,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    406: ErrorCode.NOT_ACCEPTABLE,
    409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    422: ErrorCode.VALIDATION_ERROR,
    429: ErrorCode.RATE_LIMITED,
    500: ErrorCode.INTERNAL_ERROR,
    503: ErrorCode.SERVICE_UNAVAILABLE,
}

DEFAULT_MESSAGES: dict[str, str] = {
    ErrorCode.BAD_REQUEST: "The request is not valid.",
    ErrorCode.MALFORMED_JSON: "The request body is not valid JSON.",
    ErrorCode.VALIDATION_ERROR: "The request did not pass validation.",
    ErrorCode.UNAUTHORIZED: "Authentication is required.",
    ErrorCode.FORBIDDEN: "You are not allowed to do this.",
    ErrorCode.NOT_FOUND: "Nothing was found at this address.",
    ErrorCode.METHOD_NOT_ALLOWED: "This method is not allowed here.",
    ErrorCode.NOT_ACCEPTABLE: "No acceptable representation is available.",
    ErrorCode.CONFLICT: "The request conflicts with the current state.",
    ErrorCode.PAYLOAD_TOO_LARGE: "The request body is too large.",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "This content type is not supported.",
    ErrorCode.RATE_LIMITED: "Too many requests; slow down.",
    ErrorCode.INTERNAL_ERROR: "Something went wrong on our side; it has been logged.",
    ErrorCode.SERVICE_UNAVAILABLE: "The service is temporarily unavailable.",
}


def code_for_status(status: int) -> str:
    if status in CODE_FOR_STATUS:
        return CODE_FOR_STATUS[status]
    return ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.BAD_REQUEST


class CleaveError(Exception):
    """An error with a stable `code`, an HTTP `status` and structured `details`.

    Subclasses set `code`, `status` and `message_template`; the template is formatted with
    `details`, so the message never drifts from the data a client can read.
    """

    code: ClassVar[str] = ErrorCode.INTERNAL_ERROR
    status: ClassVar[int] = 500
    message_template: ClassVar[str] = ""

    def __init__(self, message: str | None = None, *, details: Any = None) -> None:
        self.details = details
        self.message = message or self._render_message()
        super().__init__(self.message)

    def _render_message(self) -> str:
        template = self.message_template or DEFAULT_MESSAGES.get(self.code, "Request failed.")
        if isinstance(self.details, dict):
            try:
                return template.format(**self.details)
            except (KeyError, IndexError, ValueError):
                return template
        return template


class BadRequest(CleaveError):
    code: ClassVar[str] = ErrorCode.BAD_REQUEST
    status = 400


class MalformedBody(BadRequest):
    code: ClassVar[str] = ErrorCode.MALFORMED_JSON


class ValidationFailed(CleaveError):
    code: ClassVar[str] = ErrorCode.VALIDATION_ERROR
    status = 422


class Unauthorized(CleaveError):
    code: ClassVar[str] = ErrorCode.UNAUTHORIZED
    status = 401


class Forbidden(CleaveError):
    code: ClassVar[str] = ErrorCode.FORBIDDEN
    status = 403


class NotFound(CleaveError):
    code: ClassVar[str] = ErrorCode.NOT_FOUND
    status = 404


class MethodNotAllowed(CleaveError):
    code: ClassVar[str] = ErrorCode.METHOD_NOT_ALLOWED
    status = 405


class Conflict(CleaveError):
    code: ClassVar[str] = ErrorCode.CONFLICT
    status = 409


class PayloadTooLarge(CleaveError):
    code: ClassVar[str] = ErrorCode.PAYLOAD_TOO_LARGE
    status = 413


class Throttled(CleaveError):
    code: ClassVar[str] = ErrorCode.RATE_LIMITED
    status = 429


class ServiceUnavailable(CleaveError):
    code: ClassVar[str] = ErrorCode.SERVICE_UNAVAILABLE
    status = 503
