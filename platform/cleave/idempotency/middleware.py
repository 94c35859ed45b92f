"""`Idempotency-Key` on every unsafe endpoint of /api/v1, for every context, with no code in it.

    POST /api/v1/conversations/7/messages    Idempotency-Key: 5f0c…    (any string, ≤ 255)

- the same key with the same request (method, path, body) → the stored answer again (status,
  body, Content-Type/Location/ETag…, plus `Idempotent-Replayed: true`);
- the same key with another request → 422 `idempotency_key_reused`;
- while the first is still running → 409 `idempotency_key_in_progress` (retry later);
- keys are the caller's own (scoped per user) and expire after 24 hours.

Only authenticated requests take part: the anonymous unsafe endpoints are the authentication
ones (register, login, refresh, password reset), whose answers hold secrets not to be stored.
An answer of 5xx, 401 or 429 is not stored (nothing was done: a retry runs again).

The request runs inside one transaction on its context's database, and its answer is stored
in that transaction (cleave.idempotency.store): a retry after a crash finds either the answer
or no trace of the first attempt — never a write without its answer.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from cleave.auth.principal import Principal
from cleave.auth.tokens import bearer_token, verify_access_token
from cleave.databases import database_for
from cleave.errors import CleaveError, Conflict, ErrorCode, ValidationFailed
from cleave.gateway.envelope import error_response, response_for_error
from cleave.idempotency import store

HEADER = "Idempotency-Key"
META_KEY = "HTTP_IDEMPOTENCY_KEY"
PREFIX = "/api/v1/"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII: it is logged and stored
_NOT_STORED = frozenset({401, 429})


class KeyReused(ValidationFailed):
    code = "idempotency_key_reused"
    message_template = "This Idempotency-Key was used for another request."


class KeyInProgress(Conflict):
    code = "idempotency_key_in_progress"
    message_template = "A request with this Idempotency-Key is still running; retry later."


def fingerprint(request: HttpRequest) -> str:
    """What makes two requests the same: method, path with query, and body, byte for byte."""
    digest = hashlib.sha256(f"{request.method}\n{request.get_full_path()}\n".encode())
    digest.update(request.body)
    return digest.hexdigest()


def _caller(request: HttpRequest) -> Principal | None:
    token = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
    if token is None:
        return None
    try:
        return verify_access_token(token)
    except CleaveError:
        return None  # the view answers 401 itself


def _alias_of(request: HttpRequest) -> str | None:
    """The database of the context owning the route (None when no route matches)."""
    from cleave.observability.http import route_owners

    try:
        match = resolve(request.path_info)
    except Resolver404:
        return None
    return database_for(route_owners.owner(match.route))


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.META.get(META_KEY)
        if (
            key is None
            or request.method not in UNSAFE_METHODS
            or not request.path.startswith(PREFIX)
        ):
            return self.get_response(request)
        if not _KEY.match(key):
            return error_response(
                code=ErrorCode.VALIDATION_ERROR,
                status=422,
                details=[
                    {
                        "loc": ["header", HEADER],
                        "msg": "1 to 255 visible ASCII characters",
                        "type": "value_error",
                    }
                ],
            )
        principal = _caller(request)
        alias = _alias_of(request)
        if principal is None or alias is None:
            return self.get_response(request)
        try:
            request_fingerprint = fingerprint(request)
        except RequestDataTooBig:
            return error_response(code=ErrorCode.PAYLOAD_TOO_LARGE, status=413)
        return self._once(
            request, alias, f"principal:{principal.user_id}", key, request_fingerprint
        )

    def _once(
        self, request: HttpRequest, alias: str, scope: str, key: str, request_fingerprint: str
    ) -> HttpResponse:
        # The request's one transaction: services' own atomic blocks become savepoints, their
        # on_commit work runs once the answer is stored with their writes.
        with transaction.atomic(using=alias), store.held(alias, scope, key) as mine:
            if not mine:
                return response_for_error(KeyInProgress())
            stored = store.stored_answer(alias=alias, scope=scope, key=key)
            if stored is not None:
                if stored.fingerprint != request_fingerprint:
                    return response_for_error(KeyReused())
                return store.replay(stored)
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True, using=alias)  # as if it never ran: retry it
            elif response.status_code not in _NOT_STORED and not response.streaming:
                store.answer_store(
                    alias=alias,
                    scope=scope,
                    key=key,
                    fingerprint=request_fingerprint,
                    response=response,
                )
            return response
