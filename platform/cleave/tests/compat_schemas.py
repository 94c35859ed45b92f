"""Schemas and snapshots for the contract-compatibility tests, written the way pydantic v2's
`model_json_schema()` emits them."""

from __future__ import annotations

import copy
from typing import Any

from cleave.contracts.compat import Change, compare

Schema = dict[str, Any]
Expected = list[tuple[str, str]]

STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
NULL: Schema = {"type": "null"}
F = ".value"  # the field the one-field rows change


def model(properties: Schema, required: list[str] | None = None, **extra: Any) -> Schema:
    """A pydantic model's schema; every field is required unless `required` says otherwise."""
    return {
        "additionalProperties": False,
        "properties": properties,
        "required": list(properties) if required is None else required,
        "title": "Model",
        "type": "object",
        **extra,
    }


def optional(schema: Schema) -> Schema:
    return {"anyOf": [schema, NULL], "default": None}


def value(old: Schema, new: Schema) -> tuple[Schema, Schema]:
    """Two one-field models whose field `value` goes from `old` to `new`."""
    return model({"value": old}), model({"value": new})


USER = model({"user_id": INT, "email": {"title": "Email", "type": "string"}})


def snapshot(
    *,
    context: str = "identity",
    version: str = "1.0",
    argument: Schema = USER,
    result: Schema = USER,
    event: Schema = USER,
    event_version: int = 1,
    idempotent: bool = True,
    errors: tuple[str, ...] = ("user_not_found",),
) -> dict[str, Any]:
    call = {"argument": argument, "result": result, "idempotent": idempotent, "errors": [*errors]}
    return {
        "format": 1,
        "contexts": {
            context: {
                "version": version,
                "calls": {"user_get": call},
                "events": {"UserDeleted": {"version": event_version, "schema": event}},
            }
        },
    }


def without(snap: dict[str, Any], *path: str) -> dict[str, Any]:
    snap = copy.deepcopy(snap)
    parent = snap
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    return snap


def merged(*snaps: dict[str, Any]) -> dict[str, Any]:
    return {"format": 1, "contexts": {k: v for s in snaps for k, v in s["contexts"].items()}}


def found(changes: list[Change], prefix: str) -> Expected:
    return [(change.where.removeprefix(prefix), change.kind) for change in changes]


ADDRESS = model({"city": STR}, title="Address")
ADDRESS_WITHOUT_CITY = model({}, title="Address")
ADDRESS_WITH_ZIP = model({"city": STR, "zip": optional(STR)}, ["city"], title="Address")
CAT = model({"kind": {"const": "cat", "type": "string"}}, title="Cat")
CAT_WITH_NAME = model(
    {"kind": {"const": "cat", "type": "string"}, "name": optional(STR)}, ["kind"], title="Cat"
)
DOG = model({"kind": {"const": "dog", "type": "string"}}, title="Dog")
BIRD = model({"kind": {"const": "bird", "type": "string"}}, title="Bird")


def with_refs(field: Schema, **defs: Schema) -> Schema:
    extra: dict[str, Any] = {"$defs": defs}  # not a Python name, so not a keyword argument
    return model({"value": field}, **extra)


def ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def node(fields: Schema) -> Schema:
    """A recursive model, emitted as pydantic does: the root is itself a $ref."""
    return {"$defs": {"Node": model(fields, title="Node")}, "$ref": "#/$defs/Node"}


CHILDREN: Schema = {"default": [], "items": ref("Node"), "type": "array"}


def enum(*values: str) -> Schema:
    return {"enum": list(values), "type": "string"}


def const(value: str) -> Schema:
    return {"const": value, "type": "string"}


def text(**constraints: Any) -> Schema:
    return {**STR, **constraints}


def whole(**constraints: Any) -> Schema:
    return {**INT, **constraints}


LIST: Schema = {"items": INT, "type": "array"}


def assert_classified(old: Schema, new: Schema, as_input: Expected, as_output: Expected) -> None:
    """The change from `old` to `new`, as an argument (input), a result and an event (outputs)."""
    argument = compare(snapshot(argument=old), snapshot(argument=new))
    result = compare(snapshot(result=old), snapshot(result=new))
    event = compare(snapshot(event=old), snapshot(event=new))

    assert found(argument, "identity.calls.user_get.argument") == as_input
    assert found(result, "identity.calls.user_get.result") == as_output
    assert found(event, "identity.events.UserDeleted.schema") == as_output


# A field `value` goes from one schema to another: (what, old, new, as input, as output).
