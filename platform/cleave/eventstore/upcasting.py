"""Upcasters: old schema versions of an event type turned into the newest on read.

The log keeps what was written; readers see one shape per type. Each upcaster moves a payload
from version v to v+1 and they chain, so adding version 3 needs only the 2→3 step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_upcasters: dict[tuple[str, int], Upcaster] = {}


def register_upcaster(event_type: str, from_version: int, upcast: Upcaster) -> None:
    """Register `upcast` to turn `event_type` payloads of `from_version` into `from_version+1`.
    Registering the same step again replaces it (a module imported twice, a test)."""
    if from_version < 1:
        raise ValueError("schema versions start at 1")
    _upcasters[(event_type, from_version)] = upcast


def unregister_upcaster(event_type: str, from_version: int) -> None:
    """Tests: take a step back out."""
    _upcasters.pop((event_type, from_version), None)


def upcast(
    event_type: str, schema_version: int, data: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """`data` at the newest version reachable from `schema_version`, and that version."""
    while (step := _upcasters.get((event_type, schema_version))) is not None:
        data = step(data)
        schema_version += 1
    return schema_version, data
