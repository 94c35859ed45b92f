"""A contract made to misbehave on request, served at /internal/ by `remote_urls`."""

from __future__ import annotations

import threading
import time
from typing import Protocol

from cleave.contracts import Contract, ContractError, ContractModel, call
from cleave.contracts.registry import ContractRegistry
from cleave.remote.server import build_internal_api


class Ask(ContractModel):
    text: str
    sleep_ms: int = 0
    fail_times: int = 0  # fail (a provider crash: 502) this many times first, per key
    key: str = ""


class Answer(ContractModel):
    text: str
    attempt: int
    user_id: int | None
    request_id: str
    trace_id: str | None = None  # the trace id the callee's requests carry (tracing off)


class ProbeRefused(ContractError):
    code = "probe.refused"
    status = 409
    message_template = "Refused: {why}."


class ProbeService(Protocol):
    @call(idempotent=True, errors=[ProbeRefused])
    def read(self, query: Ask) -> Answer: ...

    @call(errors=[ProbeRefused])
    def write(self, command: Ask) -> Answer: ...


PROBE = Contract(context="probe", version="1.0", service=ProbeService)


class ProbeProvider:
    def __init__(self) -> None:
        self.attempts: dict[str, int] = {}
        self._lock = threading.Lock()

    def read(self, query: Ask) -> Answer:
        return self._answer(query)

    def write(self, command: Ask) -> Answer:
        return self._answer(command)

    def _answer(self, ask: Ask) -> Answer:
        from cleave.auth.principal import current_principal
        from cleave.gateway.request_id import current_request_id
        from cleave.observability import traceparent

        with self._lock:
            attempt = self.attempts[ask.key] = self.attempts.get(ask.key, 0) + 1
        time.sleep(ask.sleep_ms / 1000)
        if attempt <= ask.fail_times:
            raise ConnectionResetError("a transient failure in the provider")
        if ask.text == "refuse":
            raise ProbeRefused(details={"why": "asked to"})
        if ask.text == "crash":
            raise ZeroDivisionError("provider bug")
        principal = current_principal.get()
        return Answer(
            text=ask.text,
            attempt=attempt,
            user_id=principal.user_id if principal else None,
            request_id=current_request_id.get(),
            trace_id=traceparent.trace_id(),
        )


probe_registry = ContractRegistry()
provider = ProbeProvider()
probe_registry.provide(PROBE, provider)
probe_api = build_internal_api(probe_registry, namespace="internal-probe")
