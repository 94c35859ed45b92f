"""A request id for every request: taken from `X-Request-ID` when sane, echoed, and logged."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

from cleave.auth.principal import current_principal
from cleave.observability import traceparent

HEADER = "X-Request-ID"
_META_KEY = "HTTP_X_REQUEST_ID"
# A client-chosen id ends up in logs: accept only short, plain tokens so it cannot forge lines.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

current_request_id: ContextVar[str] = ContextVar("cleave_request_id", default="-")


def new_request_id() -> str:
    return uuid.uuid4().hex


def request_id_from(raw: str | None) -> str:
    """The client's id if it is a safe token, else a fresh one."""
    if raw and _SAFE_ID.match(raw):
        return raw
    return new_request_id()


class RequestIdMiddleware:
    """Sets the request id for the request's duration and echoes it in every response; keeps
    the app's `traceparent` for as long, so its trace id reaches logs, events and contract
    calls even when no trace exporter is configured (cleave.observability.traceparent)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_from(request.META.get(_META_KEY))
        request.request_id = request_id  # type: ignore[attr-defined]  # read by error handlers
        token = current_request_id.set(request_id)
        # The request's principal, once authenticated, must not outlive it on this thread.
        principal_token = current_principal.set(None)
        try:
            with traceparent.carrying(request.META.get(traceparent.META_KEY)):
                response = self.get_response(request)
        finally:
            current_principal.reset(principal_token)
            current_request_id.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record (or "-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True
