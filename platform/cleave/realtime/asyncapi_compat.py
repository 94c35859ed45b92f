"""Compare two AsyncAPI documents of `/ws/v1` and say which differences break an app.

difference                                       kind
channel address changed or removed               breaking
message (frame or event) removed                 breaking (additive if it was deprecated)
message added                                    additive
message changed direction                        breaking
a client frame's payload                         as an INPUT (cleave.contracts.schema_compat)
a server frame's or event's payload              as an OUTPUT read once: a new field is additive
close code removed / added                       breaking / additive
error code added / removed                       additive, reported all the same
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from cleave.contracts.schema_compat import SchemaChange
from cleave.openapi.compat import rooted, schema_changes

__all__ = ["VERSIONING_ADVICE", "compare"]

Document = Mapping[str, Any]

VERSIONING_ADVICE = (
    "Apps already installed were built against the recorded document and cannot follow a "
    "breaking change to the socket. Version instead: add beside the old shape (a new optional "
    "field, a new frame type or event name), keep sending the old one and mark its model "
    "deprecated (json_schema_extra={'deprecated': True}) until apps have moved, then remove "
    "it (removing a message the recorded document marks deprecated passes). A change no "
    "client can live with goes to a new socket version (/ws/v2) served alongside v1."
)


def compare(old: Document, new: Document) -> list[SchemaChange]:
    changes = _channels(old, new)
    old_messages = old.get("components", {}).get("messages", {})
    new_messages = new.get("components", {}).get("messages", {})
    for name in sorted(old_messages.keys() | new_messages.keys()):
        where = f"message {name}"
        if name not in new_messages:
            deprecated = bool(_payload(old, old_messages[name]).get("deprecated"))
            what = "deprecated message removed" if deprecated else "message removed"
            changes.append(SchemaChange(where, "additive" if deprecated else "breaking", what))
        elif name not in old_messages:
            changes.append(SchemaChange(where, "additive", "message added"))
        else:
            changes += _message(old, new, old_messages[name], new_messages[name], where)
    changes += _codes(old, new, "x-close-codes", "close code", removed="breaking")
    changes += _codes(old, new, "x-error-codes", "error code", removed="additive")
    return changes


def _channels(old: Document, new: Document) -> list[SchemaChange]:
    changes = []
    old_channels, new_channels = old.get("channels", {}), new.get("channels", {})
    for name, channel in sorted(old_channels.items()):
        address = new_channels.get(name, {}).get("address")
        if address != channel.get("address"):
            what = f"address changed from {channel.get('address')!r} to {address!r}"
            changes.append(SchemaChange(f"channel {name}", "breaking", what))
    return changes


def _message(
    old_doc: Document, new_doc: Document, old: Mapping[str, Any], new: Mapping[str, Any], where: str
) -> list[SchemaChange]:
    was, now = old.get("x-direction"), new.get("x-direction")
    if was != now:
        return [SchemaChange(where, "breaking", f"direction changed from {was} to {now}")]
    direction: Literal["input", "output"] = "input" if now == "client" else "output"
    return schema_changes(
        direction,
        rooted(old.get("payload", {}), old_doc),
        rooted(new.get("payload", {}), new_doc),
        f"{where} payload",
    )


def _payload(document: Document, message: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = message.get("payload", {}).get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    found: Mapping[str, Any] = document.get("components", {}).get("schemas", {}).get(name, {})
    return found


def _codes(
    old: Document, new: Document, key: str, noun: str, *, removed: Any
) -> list[SchemaChange]:
    was, now = set(old.get(key, {})), set(new.get(key, {}))
    return [
        SchemaChange(
            f"{noun} {code}",
            "additive" if code in now else removed,
            f"{noun} {code} {'added' if code in now else 'removed'}",
        )
        for code in sorted(was ^ now)
    ]
