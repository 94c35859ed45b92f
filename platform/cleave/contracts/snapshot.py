"""The JSON Schema snapshot of every published contract (`contracts/snapshot.json`)."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path
from typing import Any

from cleave.contracts.base import Contract

SNAPSHOT_FORMAT = 1
ROOT = Path(__file__).resolve().parents[3]
SNAPSHOT_PATH = ROOT / "contracts" / "snapshot.json"


def published_contracts() -> list[Contract]:
    """Every `Contract` declared in a `contracts.<context>` package, sorted by context."""
    import contracts

    found: dict[str, Contract] = {}
    for module_info in pkgutil.iter_modules(contracts.__path__):
        module = importlib.import_module(f"contracts.{module_info.name}")
        for value in vars(module).values():
            if isinstance(value, Contract):
                found[value.context] = value
    return [found[name] for name in sorted(found)]


def build(contracts: list[Contract]) -> dict[str, Any]:
    return {
        "format": SNAPSHOT_FORMAT,
        "contexts": {contract.context: _describe(contract) for contract in contracts},
    }


def _describe(contract: Contract) -> dict[str, Any]:
    return {
        "version": contract.version,
        "calls": {
            name: {
                "argument": spec.argument.model_json_schema(),
                "result": spec.result.model_json_schema(),
                "idempotent": spec.idempotent,
                "errors": sorted(error.code for error in spec.errors),
            }
            for name, spec in sorted(contract.calls.items())
        },
        "events": {
            event.event_type: {"version": event.version, "schema": event.model_json_schema()}
            for event in sorted(contract.events, key=lambda event: event.event_type)
        },
    }


def render(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def load(path: Path = SNAPSHOT_PATH) -> dict[str, Any]:
    if not path.exists():
        return {"format": SNAPSHOT_FORMAT, "contexts": {}}
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded
