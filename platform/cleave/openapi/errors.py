"""Which error responses an operation documents, in the one envelope, with their codes.

Declared once where they arise, never repeated per handler: the kernel adds what every
operation of its shape can answer (its auth dependency's 401s, 422 for inputs, 400/415 for a
JSON body, 429 for a throttle, 400 `invalid_cursor` for a page); a handler adds the errors of
its own context with `@raises(...)`:

    @router.post("/{conversation_id}/messages", response={200: MessageOut, 201: MessageOut})
    @raises(ConversationNotFound, UserUnavailable, Throttled)
    def message_send(request, conversation_id: Id, payload: MessageSendIn): ...

An auth dependency or a throttle may list its own errors in a `raises` attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ninja.operation import Operation

from cleave.errors import (
    DEFAULT_MESSAGES,
    CleaveError,
    MalformedBody,
    PayloadTooLarge,
    Throttled,
    ValidationFailed,
)
from cleave.gateway.json_body import UnsupportedMediaType
from cleave.pagination import InvalidCursor

__all__ = ["ENVELOPE_COMPONENTS", "error_responses", "raises"]

_RAISES = "__cleave_raises__"
F = TypeVar("F", bound=Callable[..., Any])

ENVELOPE_COMPONENTS: dict[str, Any] = {
    "ErrorEnvelope": {
        "title": "ErrorEnvelope",
        "description": "Every error answers in this envelope; `error.code` is stable.",
        "type": "object",
        "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}},
        "required": ["error"],
    },
    "ErrorBody": {
        "title": "ErrorBody",
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Stable, snake_case: branch on this."},
            "message": {"type": "string", "description": "For people; may change."},
            "details": {
                "description": "Structured facts about the error (a list of {loc, msg, type} "
                "for validation_error), or null."
            },
        },
        "required": ["code", "message", "details"],
    },
}


def raises(*errors: type[CleaveError]) -> Callable[[F], F]:
    """Document the errors of this handler's own context (the kernel adds the common ones).
    Put it under the router decorator; ninja's `@paginate` keeps it (functools.wraps)."""

    def declare(view: F) -> F:
        setattr(view, _RAISES, (*getattr(view, _RAISES, ()), *errors))
        return view

    return declare


def _implied(
    operation: Operation, *, path: str, method: str, has_inputs: bool, has_body: bool
) -> list[type[CleaveError]]:
    """The errors every operation of this shape can answer, whatever its context."""
    # Here, not at import: both middlewares' modules read settings.
    from cleave.app_versions.middleware import UpgradeRequired, always_served
    from cleave.idempotency.middleware import KeyInProgress, KeyReused

    implied: list[type[CleaveError]] = []
    if not always_served(path):
        implied.append(UpgradeRequired)  # the app-version policy (X-Client-Version)
    for auth in operation.auth_callbacks:
        implied += getattr(auth, "raises", ())
    if operation.auth_callbacks and method.upper() in {"POST", "PUT", "PATCH", "DELETE"}:
        implied += [KeyReused, KeyInProgress]  # with an Idempotency-Key
    for throttle in operation.throttle_objects:
        implied += getattr(throttle, "raises", (Throttled,))
    if has_inputs:
        implied.append(ValidationFailed)
    if has_body:
        implied += [MalformedBody, UnsupportedMediaType, PayloadTooLarge]
    if getattr(operation.view_func, "_ninja_is_paginated", False):
        implied.append(InvalidCursor)
    return implied


def error_responses(
    operation: Operation, *, path: str, method: str, has_inputs: bool, has_body: bool
) -> dict[int, dict[str, Any]]:
    """{status: OpenAPI response} for every error this operation documents, codes sorted."""
    errors = _implied(operation, path=path, method=method, has_inputs=has_inputs, has_body=has_body)
    errors += getattr(operation.view_func, _RAISES, ())
    by_status: dict[int, dict[str, str]] = {}
    for error in errors:
        by_status.setdefault(error.status, {})[str(error.code)] = _message_of(error)
    return {status: _response(codes) for status, codes in sorted(by_status.items())}


def _message_of(error: type[CleaveError]) -> str:
    return error.message_template or DEFAULT_MESSAGES.get(error.code, "")


def _response(codes: dict[str, str]) -> dict[str, Any]:
    lines = "\n".join(f"- `{code}`: {codes[code]}" for code in sorted(codes))
    return {
        "description": f"Error, with `error.code` one of:\n{lines}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
        "x-error-codes": sorted(codes),
    }
