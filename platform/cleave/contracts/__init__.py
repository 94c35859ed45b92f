"""Machinery behind contracts/: base types, registry, snapshots, compatibility."""

from cleave.contracts.base import (
    CallSpec,
    Contract,
    ContractError,
    ContractModel,
    Event,
    UnexpectedContractError,
    call,
)

__all__ = [
    "CallSpec",
    "Contract",
    "ContractError",
    "ContractModel",
    "Event",
    "UnexpectedContractError",
    "call",
]
