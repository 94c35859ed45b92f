"""The building blocks of a published contract: models, events, typed errors, calls.

`contracts/<context>/` may import only this (via `cleave.contracts`), pydantic and the standard
library — never Django — so a contract can be vendored by any service that speaks to us.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from cleave.errors import CleaveError

F = TypeVar("F", bound=Callable[..., Any])


class ContractModel(BaseModel):
    """An argument, result or event: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Event(ContractModel):
    """A fact a context publishes. Subclasses set `event_type` and `version` and add payload.

    On the wire an event is an envelope: the metadata below plus `payload` (the subclass's own
    fields) — see `envelope()`.
    """

    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    METADATA: ClassVar[frozenset[str]] = frozenset({"event_id", "occurred_at", "aggregate_id"})

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    aggregate_id: str

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude=set(self.METADATA))

    def envelope(self) -> dict[str, Any]:
        """The JSON-ready form stored in the outbox and sent to subscribers."""
        return {
            "event_id": str(self.event_id),
            "event_type": self.event_type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "aggregate_id": self.aggregate_id,
            "payload": self.payload(),
        }

    @classmethod
    def from_envelope(cls, envelope: dict[str, Any]) -> Self:
        """Rebuild (and validate) the event from its envelope."""
        return cls.model_validate(
            {
                "event_id": envelope["event_id"],
                "occurred_at": envelope["occurred_at"],
                "aggregate_id": envelope["aggregate_id"],
                **envelope["payload"],
            }
        )


class ContractError(CleaveError):
    """A typed error a contract declares; it crosses the boundary (and the wire) by its code."""

    status = 400

    def wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class UnexpectedContractError(CleaveError):
    """The callee failed with an error its contract does not declare (a bug on its side)."""

    code = "contract_call_failed"
    status = 502
    message_template = "{context}.{call} failed unexpectedly."


@dataclass(frozen=True)
class CallSpec:
    """One call of a contract: its argument and result models and what it may raise."""

    name: str
    argument: type[ContractModel]
    result: type[ContractModel]
    idempotent: bool
    errors: tuple[type[ContractError], ...]


def call(
    *, idempotent: bool = False, errors: Sequence[type[ContractError]] = ()
) -> Callable[[F], F]:
    """Mark a Protocol method as a contract call. Idempotent calls may be retried by transports."""

    def mark(function: F) -> F:
        # The marker rides on the function object, which declares no such attribute.
        function.__cleave_call__ = {"idempotent": idempotent, "errors": tuple(errors)}  # type: ignore[attr-defined]
        return function

    return mark


@dataclass(frozen=True)
class Contract:
    """What one context publishes. Declared once in `contracts/<context>/__init__.py`."""

    context: str
    version: str  # "MAJOR.MINOR": a breaking change needs a new MAJOR
    service: type
    events: tuple[type[Event], ...] = ()
    calls: dict[str, CallSpec] = field(init=False)

    def __post_init__(self) -> None:
        major, _, minor = self.version.partition(".")
        if not (major.isdigit() and minor.isdigit()):
            raise ValueError(f"contract {self.context!r}: version must be 'MAJOR.MINOR'")
        object.__setattr__(self, "calls", _calls_of(self.context, self.service))
        for event in self.events:
            if not event.event_type.startswith(f"{self.context}."):
                raise ValueError(f"event {event.__name__} must be typed '{self.context}.<name>'")

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def error_types(self) -> dict[str, type[ContractError]]:
        return {error.code: error for spec in self.calls.values() for error in spec.errors}


def _contract_model(call: str, role: str, model: object) -> type[ContractModel]:
    if not (isinstance(model, type) and issubclass(model, ContractModel)):
        raise TypeError(f"{call}: the {role} must be a ContractModel")
    return model


def _calls_of(context: str, service: type) -> dict[str, CallSpec]:
    calls: dict[str, CallSpec] = {}
    for name, function in inspect.getmembers(service, inspect.isfunction):
        marker = getattr(function, "__cleave_call__", None)
        if name.startswith("_") or marker is None:
            continue
        hints = typing.get_type_hints(function)
        params = [p for p in inspect.signature(function).parameters.values() if p.name != "self"]
        if len(params) != 1 or params[0].name not in hints:
            raise TypeError(f"{context}.{name} must take exactly one typed argument model")
        argument = _contract_model(f"{context}.{name}", "argument", hints[params[0].name])
        result = _contract_model(f"{context}.{name}", "result", hints.get("return"))
        calls[name] = CallSpec(name, argument, result, marker["idempotent"], marker["errors"])
    if not calls:
        raise TypeError(f"contract {context!r} declares no @call methods on {service.__name__}")
    return calls
