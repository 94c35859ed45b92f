"""`/internal/<context>/<call>`: every hosted contract, served over HTTP without a line per call.

The routes are generated from the contract models when the URLconf loads (contexts provide
their contracts in ready(), before that). Each call runs exactly as an in-process call does —
through `InProcessTransport`, so the argument and result cross as JSON and only declared errors
leave as themselves — and answers typed errors in the one error envelope, by code. The public
gateway never routes /internal/; this API also refuses anything but a service token whose
audience is the called context.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router
from ninja.security import HttpBearer

from cleave.auth.principal import acting_as
from cleave.contracts.base import CallSpec, Contract, ContractModel, UnexpectedContractError
from cleave.contracts.registry import ContractRegistry, InProcessTransport, registry
from cleave.gateway.ninja_errors import StrictJsonParser, install_error_handlers
from cleave.remote.service_tokens import ServiceCaller, ServiceTokenRefused, verifier

logger = logging.getLogger(__name__)

PREFIX = "internal/"
CALLER_HEADER = "X-Cleave-Caller"


class ServiceAuth(HttpBearer):
    """Accepts a service token for `context` only; anything else is a 401 in the envelope."""

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    def __call__(self, request: HttpRequest) -> ServiceCaller | None:
        scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ServiceTokenRefused(details={"context": self.context})
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ServiceCaller:
        return verifier.verify(token, self.context)


def build_internal_api(
    source: ContractRegistry = registry, *, namespace: str = "internal"
) -> NinjaAPI:
    """A NinjaAPI with one POST route per call of every contract provided in this process."""
    api = NinjaAPI(
        title="Cleave internal contracts",
        version="v1",
        urls_namespace=namespace,
        parser=StrictJsonParser(),
        description="Service-to-service contract calls. Never routed by the public gateway.",
    )
    install_error_handlers(api)
    for context in sorted(source.providers):
        contract = source.contracts[context]
        router = Router(auth=ServiceAuth(context), tags=[context])
        transport = InProcessTransport(source, contract)
        for name, spec in sorted(contract.calls.items()):
            router.add_api_operation(
                f"/{name}",
                ["POST"],
                _view(contract, spec, transport),
                response={200: spec.result},
                operation_id=f"{context}_{name}",
                summary=f"{context}.{name}" + (" (idempotent)" if spec.idempotent else ""),
            )
        api.add_router(f"/{context}", router)
    return api


def _view(
    contract: Contract, spec: CallSpec, transport: InProcessTransport
) -> Callable[..., HttpResponse]:
    def view(request: HttpRequest, argument: ContractModel) -> HttpResponse:
        # ninja sets `auth` on the request once authenticated; HttpRequest does not declare it.
        caller: ServiceCaller = request.auth  # type: ignore[attr-defined]
        with acting_as(caller.principal):
            try:
                result = transport.invoke(contract, spec, argument)
            except UnexpectedContractError as error:
                # The caller sees only the code; the cause stays in this service's logs.
                logger.error(
                    "%s.%s failed for %s",
                    contract.context,
                    spec.name,
                    caller.service,
                    exc_info=error.__cause__ or error,
                )
                raise
        # The result is already validated by the transport: skip ninja's second pass.
        return HttpResponse(result.model_dump_json(), content_type="application/json")

    # ninja reads the body model from the annotation, so it must be the call's own model.
    view.__annotations__ = {"request": HttpRequest, "argument": spec.argument, "return": Any}
    view.__name__ = f"{contract.context}_{spec.name}"
    return view
