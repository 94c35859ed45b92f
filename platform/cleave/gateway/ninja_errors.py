"""Render every exception a django-ninja API raises in the Cleave envelope."""

from __future__ import annotations

import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.parser import Parser

from cleave.errors import CleaveError, ErrorCode, ValidationFailed, code_for_status
from cleave.gateway.envelope import error_response, response_for_error, response_for_exception
from cleave.gateway.json_body import load_json, require_json


class StrictJsonParser(Parser):
    """Parses JSON bodies strictly (cleave.gateway.json_body): other media types are 415, a
    body that is not JSON or repeats a key is `malformed_json`, never a bare 400."""

    def parse_body(self, request: HttpRequest) -> Any:
        require_json(request)
        data = load_json(request.body)
        if b"\\u0000" in request.body:  # JSON can only carry NUL escaped: look closer
            where = _nul_at(data, ["body"])
            if where is not None:
                raise ValidationFailed(
                    details=[{"loc": where, "msg": "NUL characters are not allowed", "type": "nul"}]
                )
        return data


def _nul_at(value: Any, loc: list[Any]) -> list[Any] | None:
    """Where a NUL character sits in parsed JSON (PostgreSQL cannot store one in text)."""
    if isinstance(value, str):
        return loc if "\x00" in value else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return [*loc, key]
        found = _nul_at(item, [*loc, key])
        if found is not None:
            return found
    return None


def _validation_details(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # pydantic's raw errors carry the offending input and a docs URL; clients need where and why.
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in errors
    ]


def _on_validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response(
        code=ErrorCode.VALIDATION_ERROR, status=422, details=_validation_details(exc.errors)
    )


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja wraps a parser's exception in HttpError(400); surface ours with its own code.
    if isinstance(exc.__cause__, CleaveError):
        return response_for_error(exc.__cause__)
    if isinstance(exc, Throttled):
        response = error_response(code=ErrorCode.RATE_LIMITED, status=429)
        if exc.wait is not None:
            response["Retry-After"] = str(max(1, math.ceil(exc.wait)))
        return response
    code = (
        ErrorCode.UNAUTHORIZED
        if isinstance(exc, AuthenticationError)
        else code_for_status(exc.status_code)
    )
    return error_response(code=code, status=exc.status_code, message=exc.message)


def install_error_handlers(api: NinjaAPI) -> None:
    """Replace ninja's default handlers (which differ per error and re-raise 500s)."""
    # ninja annotates a handler's second argument as the exception or its class; it only ever
    # passes the instance it caught (NinjaAPI.on_exception), which is what ours take.
    api.add_exception_handler(ValidationError, _on_validation)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, _on_http_error)  # type: ignore[arg-type]
    api.add_exception_handler(Exception, response_for_exception)  # type: ignore[arg-type]
