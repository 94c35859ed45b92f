"""A contract with one call taking and returning a 5-field model, for the call-overhead bench."""

from __future__ import annotations

from typing import Protocol

from cleave.contracts import Contract, ContractModel, call


class Args(ContractModel):
    user_id: int
    name: str
    score: float
    active: bool
    tags: list[str]


class Result(ContractModel):
    user_id: int
    name: str
    score: float
    active: bool
    tags: list[str]


class EchoService(Protocol):
    @call(idempotent=True)
    def echo(self, query: Args) -> Result: ...


class EchoProvider:
    def echo(self, query: Args) -> Result:
        return Result(
            user_id=query.user_id,
            name=query.name,
            score=query.score,
            active=query.active,
            tags=query.tags,
        )


ECHO = Contract(context="bench", version="1.0", service=EchoService)
