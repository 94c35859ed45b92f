"""What the flags home publishes: the current flag definitions, for services that evaluate
flags but do not hold the flag tables.

Flags are kernel (`cleave.flags`), so every process can evaluate them; their tables live with
one service, the flags home (the edge service in a split deployment). Another service loads
the definitions through this contract — over HTTP in split mode — whenever the shared version
number says they changed, and evaluates locally.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, call


class DefinitionsGet(ContractModel):
    """Ask for every flag definition."""


class FlagDefinitionOut(ContractModel):
    name: str
    everyone: bool | None
    percent: int | None = Field(ge=0, le=100)
    killed: bool
    client_visible: bool
    platforms: list[str]
    min_app_version: str
    max_app_version: str
    user_ids: list[int]
    roles: list[str]
    environments: list[str]
    variants: list[dict[str, Any]]


class FlagDefinitions(ContractModel):
    flags: list[FlagDefinitionOut]


class FlagsService(Protocol):
    @call(idempotent=True)
    def definitions_get(self, query: DefinitionsGet) -> FlagDefinitions: ...


FLAGS = Contract(context="flags", version="1.0", service=FlagsService)

__all__ = [
    "FLAGS",
    "DefinitionsGet",
    "FlagDefinitionOut",
    "FlagDefinitions",
    "FlagsService",
]
