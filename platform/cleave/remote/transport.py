"""The HTTP contract transport: a call to a context hosted elsewhere, as if it were local.

Every remote call has a deadline (connect and read), is retried with back-off and jitter only
when its contract marks it idempotent (and only when the target failed: unreachable, timed out,
5xx — never after a typed error), and passes one circuit breaker per target context, so a dead
dependency costs callers a fast `contract_unavailable` instead of a thread blocked for the
whole timeout. Typed errors come back by their code and are raised as the
contract's own exception types, exactly as in process.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from typing import Any

import httpx
from django.conf import settings

from cleave.auth.principal import current_principal
from cleave.contracts.base import CallSpec, Contract, ContractModel, UnexpectedContractError
from cleave.contracts.registry import ContractUnavailable
from cleave.errors import CleaveError
from cleave.gateway.request_id import HEADER as REQUEST_ID_HEADER
from cleave.gateway.request_id import current_request_id
from cleave.observability import metrics
from cleave.observability.tracing import inject
from cleave.remote.breakers import BreakerOpen, breaker_for
from cleave.remote.server import CALLER_HEADER, PREFIX
from cleave.remote.service_tokens import signer

logger = logging.getLogger(__name__)


class RemoteFailure(Exception):
    """The target failed (unreachable, timed out, 5xx): counts against its breaker, and an
    idempotent call tries again. `provider_failed`: the callee ran the call and it crashed
    (502 contract_call_failed) — reported as UnexpectedContractError, as in process."""

    def __init__(self, reason: str, *, provider_failed: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.provider_failed = provider_failed


class _Clients:
    """One pooled httpx client per target and process (rebuilt after a fork)."""

    def __init__(self) -> None:
        self._clients: dict[str, httpx.Client] = {}
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def get(self, base_url: str) -> httpx.Client:
        if self._pid != os.getpid():
            self._clients, self._pid = {}, os.getpid()
        client = self._clients.get(base_url)
        if client is None:
            with self._lock:
                client = self._clients.get(base_url)
                if client is None:
                    client = httpx.Client(
                        base_url=base_url,
                        timeout=httpx.Timeout(
                            settings.CLEAVE_REMOTE_TIMEOUT_SECONDS,
                            connect=settings.CLEAVE_REMOTE_CONNECT_TIMEOUT_SECONDS,
                        ),
                        limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                    )
                    self._clients[base_url] = client
        return client

    def close_all(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients = {}


clients = _Clients()


class HttpTransport:
    """Calls `contract` on the service at CLEAVE_<CONTEXT>_URL."""

    def __init__(self, contract: Contract, base_url: str) -> None:
        self._base_url = base_url
        self._errors = contract.error_types()
        self._breaker = breaker_for(contract.context)

    def kind(self, contract: Contract) -> str:
        return "http"

    def invoke(self, contract: Contract, spec: CallSpec, argument: ContractModel) -> ContractModel:
        attempts = 1 + (settings.CLEAVE_REMOTE_RETRIES if spec.idempotent else 0)
        body = argument.model_dump_json().encode()
        for attempt in range(1, attempts + 1):
            try:
                status, payload = self._breaker.call(self._send, contract, spec, body)
            except BreakerOpen:
                raise ContractUnavailable(
                    details={"context": contract.context, "reason": "circuit_open"}
                ) from None
            except RemoteFailure as failure:
                if attempt == attempts:
                    if failure.provider_failed:
                        raise _unexpected(contract, spec, failure.reason) from failure
                    raise ContractUnavailable(
                        details={"context": contract.context, "reason": failure.reason}
                    ) from failure
                delay = settings.CLEAVE_REMOTE_RETRY_BACKOFF_SECONDS * 2 ** (attempt - 1)
                delay *= random.uniform(0.5, 1.5)  # noqa: S311 - jitter, not security
                logger.warning(
                    "retrying %s.%s in %.0f ms (attempt %d of %d): %s",
                    contract.context,
                    spec.name,
                    delay * 1000,
                    attempt + 1,
                    attempts,
                    failure.reason,
                )
                metrics.contract_retries.labels(contract.context, spec.name).inc()
                time.sleep(delay)
                continue
            return self._decode(contract, spec, status, payload)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _send(
        self, contract: Contract, spec: CallSpec, body: bytes
    ) -> tuple[int, dict[str, Any] | bytes]:
        headers = {
            "Authorization": "Bearer "
            + signer.token_for(contract.context, current_principal.get()),
            "Content-Type": "application/json",
            REQUEST_ID_HEADER: current_request_id.get(),
            CALLER_HEADER: settings.CLEAVE_SERVICE_NAME,
            # The trace travels even with tracing off (the httpx instrumentation, when on,
            # replaces it with its client span's).
            **inject(),
        }
        url = f"/{PREFIX}{contract.context}/{spec.name}"
        try:
            response = clients.get(self._base_url).post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise RemoteFailure(f"timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise RemoteFailure(f"unreachable ({type(exc).__name__})") from exc
        if response.status_code == 200:
            return 200, response.content
        payload = _json_object(response)
        if response.status_code >= 500:
            code = _error_code(payload)
            raise RemoteFailure(
                f"answered {response.status_code} {code}",
                provider_failed=code == UnexpectedContractError.code,
            )
        return response.status_code, payload

    def _decode(
        self, contract: Contract, spec: CallSpec, status: int, payload: dict[str, Any] | bytes
    ) -> ContractModel:
        if isinstance(payload, bytes):
            try:
                return spec.result.model_validate_json(payload)
            except ValueError as exc:
                raise _unexpected(contract, spec, "result does not match the contract") from exc
        raw_error = payload.get("error")
        error = raw_error if isinstance(raw_error, dict) else {}
        code = _error_code(payload)
        error_type = self._errors.get(code) if code else None
        if error_type is not None and any(issubclass(error_type, e) for e in spec.errors):
            details = error.get("details")
            raise error_type(str(error.get("message", "")), details=details)
        # Refused credentials, a body the callee's version rejects, an undeclared code: a bug
        # or a misconfiguration on one side, never something the caller could handle.
        logger.error(
            "%s.%s answered %s %s", contract.context, spec.name, status, code or "(no code)"
        )
        raise _unexpected(contract, spec, f"answered {status} {code}")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        payload = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _error_code(payload: dict[str, Any]) -> str | None:
    error = payload.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return code if isinstance(code, str) else None


def _unexpected(contract: Contract, spec: CallSpec, reason: str) -> CleaveError:
    return UnexpectedContractError(
        details={"context": contract.context, "call": spec.name, "reason": reason}
    )


def http_transport(contract: Contract) -> HttpTransport:
    """The HTTP transport to the service the environment names for `contract`'s context."""
    url = settings.CLEAVE_SERVICE_URLS.get(contract.context)
    if not url:
        raise ContractUnavailable(details={"context": contract.context, "reason": "no_url"})
    return HttpTransport(contract, url)
