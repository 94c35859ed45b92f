"""Who provides each contract, and clients that call it the way the wire would.

A context *provides* its implementation from AppConfig.ready(); any code *gets* a client for a
contract. The in-process transport still round-trips the argument and the result through the
contract models' JSON, so a call behaves exactly as it will over HTTP: no ORM object or shared
mutable state crosses, and only declared errors surface, as the contract's own types.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, cast

from opentelemetry.trace import SpanKind, Status, StatusCode

from cleave.contracts.base import (
    CallSpec,
    Contract,
    ContractError,
    ContractModel,
    UnexpectedContractError,
)
from cleave.errors import CleaveError
from cleave.observability import metrics
from cleave.observability.tracing import tracer

S = TypeVar("S")
logger = logging.getLogger(__name__)
# What a caller may return instead when a call cannot be made: fallback(argument, error).
# The argument is the call's own argument model (any of them, hence Any).
Fallback = Callable[[Any, CleaveError], ContractModel]


class ContractUnavailable(CleaveError):
    code = "contract_unavailable"
    status = 503
    message_template = "No provider for the {context} contract is available."


class Transport(Protocol):
    def invoke(
        self, contract: Contract, spec: CallSpec, argument: ContractModel
    ) -> ContractModel: ...


class ContractRegistry:
    def __init__(self) -> None:
        self.contracts: dict[str, Contract] = {}
        self.providers: dict[str, object] = {}
        self._transports: dict[str, Callable[[Contract], Transport]] = {
            "inprocess": lambda contract: InProcessTransport(self, contract),
            "routed": lambda contract: RoutedTransport(self, contract),
        }

    def provide(self, contract: Contract, implementation: object) -> None:
        """Register `implementation` as the provider of `contract` (call from AppConfig.ready)."""
        missing = [
            name for name in contract.calls if not callable(getattr(implementation, name, None))
        ]
        if missing:
            name = type(implementation).__name__
            raise TypeError(f"{name} does not implement {missing} of {contract.context}")
        self.contracts[contract.context] = contract
        self.providers[contract.context] = implementation

    def withdraw(self, contract: Contract) -> None:
        self.providers.pop(contract.context, None)

    def add_transport(self, name: str, factory: Callable[[Contract], Transport]) -> None:
        self._transports[name] = factory

    def client(
        self,
        contract: Contract,
        service: type[S],
        *,
        transport: str = "routed",
        fallbacks: Mapping[str, Fallback] | None = None,
        caller: str = "kernel",
    ) -> S:
        """A client of `contract` typed as its service Protocol `service`, used by `caller`
        (the calling context, for metrics and traces).

        `fallbacks` maps a call's name to `fallback(argument, error)`, whose result is used
        when the call cannot be made (no provider reachable, breaker open, the callee failed
        unexpectedly) — never instead of a typed error the contract declares.
        """
        if service is not contract.service:
            raise TypeError(
                f"{service.__name__} is not the service of the {contract.context} contract"
            )
        unknown = sorted(set(fallbacks or {}) - set(contract.calls))
        if unknown:
            raise TypeError(f"fallbacks for unknown calls of {contract.context}: {unknown}")
        self.contracts.setdefault(contract.context, contract)
        chosen = self._transports[transport](contract)
        return cast(S, ContractClient(contract, chosen, dict(fallbacks or {}), caller=caller))


class ContractClient:
    """Exposes one method per call; each validates through the contract on the way in and out."""

    def __init__(
        self,
        contract: Contract,
        transport: Transport,
        fallbacks: dict[str, Fallback],
        *,
        caller: str = "kernel",
    ) -> None:
        self._contract = contract
        self._transport = transport
        self._caller = caller
        for name, spec in contract.calls.items():
            setattr(self, name, self._bind(spec, fallbacks.get(name)))

    def _bind(
        self, spec: CallSpec, fallback: Fallback | None
    ) -> Callable[[ContractModel], ContractModel]:
        contract, transport, caller = self._contract, self._transport, self._caller
        kind = getattr(transport, "kind", None)

        def observed(argument: ContractModel) -> ContractModel:
            """The call, as a span and in the contract-call metrics."""
            via = kind(contract) if callable(kind) else type(transport).__name__
            attributes = {
                "cleave.contract.caller": caller,
                "cleave.contract.callee": contract.context,
                "cleave.contract.call": spec.name,
                "cleave.contract.transport": via,
            }
            outcome = "failed"
            started = time.perf_counter()
            with tracer.start_as_current_span(
                f"contract {contract.context}.{spec.name}",
                kind=SpanKind.CLIENT,
                attributes=attributes,
            ) as span:
                try:
                    result = transport.invoke(contract, spec, argument)
                    outcome = "ok"
                    return result
                except ContractError:
                    outcome = "typed_error"
                    raise
                except ContractUnavailable:
                    outcome = "unavailable"
                    raise
                finally:
                    span.set_attribute("cleave.contract.outcome", outcome)
                    if outcome in {"failed", "unavailable"}:
                        span.set_status(Status(StatusCode.ERROR, outcome))
                    labels = (caller, contract.context, spec.name, via)
                    metrics.contract_calls.labels(*labels, outcome).inc()
                    metrics.contract_duration.labels(*labels).observe(time.perf_counter() - started)

        def invoke(argument: ContractModel) -> ContractModel:
            if type(argument) is not spec.argument:
                raise TypeError(
                    f"{contract.context}.{spec.name} takes {spec.argument.__name__}, "
                    f"not {type(argument).__name__}"
                )
            if fallback is None:
                return observed(argument)
            try:
                return observed(argument)
            except (ContractUnavailable, UnexpectedContractError) as error:
                logger.warning(
                    "%s.%s failed (%s); using the caller's fallback",
                    contract.context,
                    spec.name,
                    error.code,
                )
                result = fallback(argument, error)
                if type(result) is not spec.result:
                    raise TypeError(
                        f"the fallback of {contract.context}.{spec.name} must return "
                        f"{spec.result.__name__}"
                    ) from error
                return result

        invoke.__name__ = spec.name
        return invoke

    def __repr__(self) -> str:
        return f"<{self._contract.context} client via {type(self._transport).__name__}>"


class InProcessTransport:
    """Calls the provider in this process, through the contract models' JSON both ways."""

    def __init__(self, registry: ContractRegistry, contract: Contract) -> None:
        self._registry = registry
        self._errors = contract.error_types()

    def kind(self, contract: Contract) -> str:
        return "inprocess"

    def invoke(self, contract: Contract, spec: CallSpec, argument: ContractModel) -> ContractModel:
        provider = self._registry.providers.get(contract.context)
        if provider is None:
            raise ContractUnavailable(details={"context": contract.context})
        wire_argument = spec.argument.model_validate_json(argument.model_dump_json())
        try:
            result = getattr(provider, spec.name)(wire_argument)
        except ContractError as error:
            raise self._rebuild(contract, spec, error) from None
        except Exception as exc:
            raise _unexpected(contract, spec) from exc
        if type(result) is not spec.result:
            raise _unexpected(contract, spec) from TypeError(
                f"{contract.context}.{spec.name} returned {type(result).__name__}, "
                f"not {spec.result.__name__}"
            )
        return spec.result.model_validate_json(result.model_dump_json())

    def _rebuild(self, contract: Contract, spec: CallSpec, error: ContractError) -> CleaveError:
        # Rebuilt from its wire form, as the HTTP transport will: the caller never holds the
        # callee's exception object (or its traceback and locals).
        error_type = self._errors.get(error.code)
        if error_type is None or not isinstance(error, error_type):
            return _unexpected(contract, spec)
        wire = error.wire()
        return error_type(wire["message"], details=wire["details"])


class RoutedTransport:
    """In process when this process provides the contract, else over HTTP to the service the
    environment names (CLEAVE_<CONTEXT>_URL). Chosen per call, so a client built at import
    time, before the providers register, still finds them."""

    def __init__(self, registry: ContractRegistry, contract: Contract) -> None:
        self._registry = registry
        self._local = InProcessTransport(registry, contract)
        self._remote: Transport | None = None

    def kind(self, contract: Contract) -> str:
        return "inprocess" if contract.context in self._registry.providers else "http"

    def invoke(self, contract: Contract, spec: CallSpec, argument: ContractModel) -> ContractModel:
        if contract.context in self._registry.providers:
            return self._local.invoke(contract, spec, argument)
        return self._remote_for(contract).invoke(contract, spec, argument)

    def _remote_for(self, contract: Contract) -> Transport:
        if self._remote is None:
            from django.conf import settings

            if not getattr(settings, "CLEAVE_SERVICE_URLS", {}).get(contract.context):
                raise ContractUnavailable(details={"context": contract.context})
            from cleave.remote.transport import http_transport

            self._remote = http_transport(contract)
        return self._remote


def _unexpected(contract: Contract, spec: CallSpec) -> UnexpectedContractError:
    return UnexpectedContractError(details={"context": contract.context, "call": spec.name})


registry = ContractRegistry()
provide = registry.provide


def client(
    contract: Contract, service: type[S], *, fallbacks: Mapping[str, Fallback] | None = None
) -> S:
    """A client of another context's contract: in process in the monolith, over HTTP when the
    context is hosted by another service. The calling code cannot tell which."""
    return registry.client(
        contract, service, fallbacks=fallbacks, caller=_context_of(sys._getframe(1))
    )


def _context_of(frame: object) -> str:
    # The module that built the client names the calling context (apps.<context>.…).
    module = str(getattr(frame, "f_globals", {}).get("__name__", ""))
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "apps" else "kernel"


__all__ = [
    "ContractClient",
    "ContractRegistry",
    "ContractUnavailable",
    "Fallback",
    "RoutedTransport",
    "client",
    "provide",
    "registry",
]
