"""Compare two pydantic v2 JSON schemas and say which differences break the side that reads them.

An INPUT is what callers send, an OUTPUT what consumers receive: safe for one may break the other.

    schema difference                            input     output
    field removed (a rename: removed + added)    breaking  breaking
    new field: optional / required               additive / breaking, either way
    optional -> required                         breaking  breaking
    required -> optional                         additive  breaking
    accepted values widened                      additive  breaking
    accepted values narrowed                     breaking  additive
    accepted values changed incomparably         breaking  breaking
    default changed                              additive  additive
    title, description, examples, deprecated     ignored   ignored
    a keyword this module does not understand    breaking  breaking

"Accepted values" covers `type` (integer is a subset of number), `anyOf`/`oneOf` members,
`enum`/`const`, string, number, array and object constraints (a lowered `maxLength`, a raised
`minimum` or an added `format` narrow; a changed `pattern` is incomparable) and
`additionalProperties`. Nested models are followed through `$ref` into the schema's own `$defs`
and compared field by field; array `items` and mapping values likewise.

Standard library only, so CI can run it without Django or pydantic.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Literal

__all__ = ["Direction", "Kind", "Schema", "SchemaChange", "compare_schemas"]

Kind = Literal["additive", "breaking"]
Direction = Literal["input", "output"]
Schema = Mapping[str, Any]
Branches = list[dict[str, Any]]  # a schema's alternatives, each of a single JSON kind


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two schemas: where it is, whether it breaks, and what it is."""

    where: str  # "identity.calls.user_get.argument.email"
    kind: Kind
    what: str  # "field 'email' removed", "type narrowed from string | null to string"


def compare_schemas(
    direction: Direction, old: Schema, new: Schema, where: str, *, stored: bool = True
) -> list[SchemaChange]:
    """Every difference between two root schemas; ValueError for a `$ref` it cannot follow.

    `stored`: outputs are also read back later (events in an outbox, results in a cache), so
    a new required output field is breaking. An HTTP response is read once, as it arrives:
    with `stored=False` a new output field is additive."""
    walk = _SchemaWalk(direction, old, new, stored=stored)
    walk.schema(old, new, where)
    return walk.changes


class _Rel(Enum):
    """How the set of values the new schema accepts relates to the old one's."""

    EQUAL = "unchanged"
    WIDER = "widened"
    NARROWER = "narrowed"
    INCOMPARABLE = "changed incomparably"


def _join(*relations: _Rel) -> _Rel:
    result = _Rel.EQUAL
    for rel in relations:
        if result is _Rel.EQUAL:
            result = rel
        elif rel is not _Rel.EQUAL and rel is not result:
            return _Rel.INCOMPARABLE
    return result


def _match(old: Mapping[str, Any], new: Mapping[str, Any], both: Callable[[str], _Rel]) -> _Rel:
    """Alternatives only the old side had narrow; only the new side's widen; shared ones compare."""
    rel = _Rel.EQUAL
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            rel = _join(rel, _Rel.NARROWER)
        elif key not in old:
            rel = _join(rel, _Rel.WIDER)
        else:
            rel = _join(rel, both(key))
    return rel


# Keys that do not change which values are accepted. `x-ref` is our own note of a resolved $ref.
_IGNORED = frozenset(
    {"title", "description", "examples", "deprecated", "readOnly", "writeOnly", "$comment"}
    | {"$defs", "default", "x-ref"}
)
_NUMERIC = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"})
_STRING = frozenset({"minLength", "maxLength", "pattern", "format"})
_ARRAY = frozenset({"items", "minItems", "maxItems", "uniqueItems"})
_OBJECT = frozenset(
    {"properties", "required", "additionalProperties", "minProperties", "maxProperties"}
)
_UNDERSTOOD = _IGNORED | _NUMERIC | _STRING | _ARRAY | _OBJECT | {"type", "enum", "const"}
_SHOWN = (_NUMERIC | _STRING | _ARRAY | _OBJECT) - {"items", "properties", "required"}
_VALUE_KINDS = {"bool": "boolean", "int": "integer", "float": "number", "str": "string"}
_VALUE_KINDS |= {"list": "array", "dict": "object", "NoneType": "null"}
_MISSING = object()


@dataclass
class _SchemaWalk:
    """Compares one pair of schemas; each side resolves `$ref` through its own root's `$defs`."""

    direction: Direction
    old_root: Schema
    new_root: Schema
    stored: bool = True
    changes: list[SchemaChange] = field(default_factory=list)
    # Pairs of models being compared further up the stack: a recursive model stops here.
    active: set[tuple[str | None, str | None]] = field(default_factory=set)

    def report(self, where: str, kind: Kind, what: str, at: int | None = None) -> None:
        change = SchemaChange(where, kind, what)
        self.changes.insert(len(self.changes) if at is None else at, change)

    def schema(self, old: Schema, new: Schema, where: str) -> None:
        old_node = _resolve(old, self.old_root, where)
        new_node = _resolve(new, self.new_root, where)
        was, now = (_show(node.get("default", _MISSING)) for node in (old_node, new_node))
        if was != now:
            self.report(where, "additive", f"default changed from {was} to {now}")
        old_branches = _branches(old_node, self.old_root, where)
        new_branches = _branches(new_node, self.new_root, where)
        at = len(self.changes)  # the summary goes before the nested changes it explains
        rel = self.union(old_branches, new_branches, where)
        if rel is not _Rel.EQUAL:
            safe = _Rel.WIDER if self.direction == "input" else _Rel.NARROWER
            what = f"type {rel.value} from {_describe(old_branches)} to {_describe(new_branches)}"
            self.report(where, "additive" if rel is safe else "breaking", what, at)

    def union(self, old: Branches, new: Branches, where: str) -> _Rel:
        old_kinds, new_kinds = _by_kind(old), _by_kind(new)
        if "any" in old_kinds and "any" in new_kinds:
            self.unknown(old_kinds["any"][0], new_kinds["any"][0], where)
            return _Rel.EQUAL
        if "any" in old_kinds or "any" in new_kinds:
            return _Rel.WIDER if "any" in new_kinds else _Rel.NARROWER
        base = _fold_integers(old_kinds, new_kinds)

        def both(kind: str) -> _Rel:
            pairs = self.pairs(kind, old_kinds[kind], new_kinds[kind], where)
            return _join(base.get(kind, _Rel.EQUAL), pairs)

        return _match(old_kinds, new_kinds, both)

    def pairs(self, kind: str, old: Branches, new: Branches, where: str) -> _Rel:
        if len(old) == 1 and len(new) == 1:
            return self.pair(kind, old[0], new[0], where)
        # Several branches of one kind (a union of models, of literals): match them by name.
        old_keyed, new_keyed = ({_branch_key(b): b for b in side} for side in (old, new))

        def both(key: str) -> _Rel:
            label = _name(old_keyed[key])
            at = f"{where}({label})" if label else where
            return self.pair(kind, old_keyed[key], new_keyed[key], at)

        return _match(old_keyed, new_keyed, both)

    def pair(self, kind: str, old: Schema, new: Schema, where: str) -> _Rel:
        self.unknown(old, new, where)
        rel = _values_rel(_values(old), _values(new))
        if kind == "object":
            return _join(rel, self.fields(old, new, where))
        if kind == "array":
            self.schema(old.get("items", {}), new.get("items", {}), f"{where}[]")
            unique = _limit(int(bool(old.get("uniqueItems"))), int(bool(new.get("uniqueItems"))))
            return _join(rel, unique, *_limits(old, new, "minItems", "maxItems"))
        if kind == "string":
            exact = [_exact(old.get(key), new.get(key)) for key in ("pattern", "format")]
            return _join(rel, *exact, *_limits(old, new, "minLength", "maxLength"))
        if kind in ("integer", "number"):
            (old_low, old_high), (new_low, new_high) = _bounds(old), _bounds(new)
            high = _limit(old_high, new_high, lower=False)
            multiple = _exact(old.get("multipleOf"), new.get("multipleOf"))
            return _join(rel, _limit(old_low, new_low), high, multiple)
        return rel

    def fields(self, old: Schema, new: Schema, where: str) -> _Rel:
        key = (old.get("x-ref"), new.get("x-ref"))
        if key in self.active:
            return _Rel.EQUAL  # the enclosing comparison of these two models reports their changes
        if key != (None, None):  # inline objects cannot recurse
            self.active.add(key)
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name in sorted(old_props.keys() | new_props.keys()):
            at, was, now = f"{where}.{name}", name in old_required, name in new_required
            if name not in new_props:
                self.report(at, "breaking", f"field '{name}' removed")
            elif name not in old_props:
                # Required is breaking for stored outputs too: events already stored lack it.
                how = "required" if now else "optional"
                breaks = now and (self.direction == "input" or self.stored)
                what = f"field '{name}' added as {how}"
                self.report(at, "breaking" if breaks else "additive", what)
            else:
                if now and not was:
                    self.report(at, "breaking", f"field '{name}' became required")
                elif was and not now:
                    # Callers may still send it; consumers relied on always receiving it.
                    kind: Kind = "additive" if self.direction == "input" else "breaking"
                    self.report(at, kind, f"field '{name}' became optional")
                self.schema(old_props[name], new_props[name], at)
        self.active.discard(key)
        old_extra, new_extra = (node.get("additionalProperties", True) for node in (old, new))
        if isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
            self.schema(old_extra, new_extra, f"{where}{{}}")
            extra = _Rel.EQUAL
        else:
            extra = _limit(_openness(old_extra), _openness(new_extra), lower=False)
        return _join(extra, *_limits(old, new, "minProperties", "maxProperties"))

    def unknown(self, old: Schema, new: Schema, where: str) -> None:
        # Guessing wrong about a keyword would let a break through: make a human look instead.
        for key in sorted((old.keys() | new.keys()) - _UNDERSTOOD):
            if _canon(old.get(key)) != _canon(new.get(key)):
                what = f"'{key}' changed, which this check does not understand"
                self.report(where, "breaking", what)


def _resolve(schema: Schema, root: Schema, where: str) -> dict[str, Any]:
    node = dict(schema)
    seen: set[str] = set()
    while True:
        if "$ref" in node:
            ref = node.pop("$ref")
            if ref in seen:
                raise ValueError(f"{where}: $ref {ref!r} leads back to itself")
            seen.add(ref)
            node = {**_lookup(root, ref, where), **node, "x-ref": ref}
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            # Older pydantic wraps a described $ref as allOf: [{$ref}].
            (only,) = node.pop("allOf")
            node = {**only, **node}
        else:
            return node


def _lookup(root: Schema, ref: str, where: str) -> Schema:
    if not ref.startswith("#/"):
        raise ValueError(f"{where}: only local $ref is supported, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or key not in node:
            raise ValueError(f"{where}: $ref {ref!r} does not resolve")
        node = node[key]
    if not isinstance(node, Mapping):
        raise ValueError(f"{where}: $ref {ref!r} is not a schema")
    return node


def _branches(node: dict[str, Any], root: Schema, where: str) -> Branches:
    """The alternatives a schema accepts, each of one JSON kind."""
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            members = [_resolve(member, root, where) for member in node[key]]
            return [branch for member in members for branch in _branches(member, root, where)]
    values = _values(node)
    if values is not None:
        kinds = sorted({_value_kind(value) for value in values})
        rest = {k: v for k, v in node.items() if k != "const"}
        return [
            {**rest, "type": kind, "enum": [v for v in values if _value_kind(v) == kind]}
            for kind in kinds
        ]
    if isinstance(node.get("type"), list):
        return [{**node, "type": kind} for kind in node["type"]]
    return [node]


def _kind(branch: Schema) -> str:
    if isinstance(branch.get("type"), str):
        return str(branch["type"])
    if "properties" in branch or "additionalProperties" in branch:
        return "object"
    return "array" if "items" in branch else "any"


def _by_kind(branches: Branches) -> dict[str, Branches]:
    grouped: dict[str, Branches] = {}
    for branch in branches:
        grouped.setdefault(_kind(branch), []).append(branch)
    return grouped


def _fold_integers(old: dict[str, Branches], new: dict[str, Branches]) -> dict[str, _Rel]:
    """Let integer branches meet number branches, since every integer is a number."""
    base: dict[str, _Rel] = {}
    for mine, other, rel in ((old, new, _Rel.WIDER), (new, old, _Rel.NARROWER)):
        if "integer" in mine and "number" in other and "integer" not in other:
            integers = mine.pop("integer")
            if "number" not in mine:  # else this side's own number branch already holds them
                mine["number"] = integers
                base["number"] = rel
    return base


def _values(node: Schema) -> list[Any] | None:
    if "const" in node:
        return [node["const"]]
    return list(node["enum"]) if isinstance(node.get("enum"), list) else None


def _value_kind(value: Any) -> str:
    return _VALUE_KINDS[type(value).__name__]


def _values_rel(old: list[Any] | None, new: list[Any] | None) -> _Rel:
    if old is None or new is None:
        return _exact(old, new)
    old_set, new_set = {_canon(v) for v in old}, {_canon(v) for v in new}
    if old_set == new_set:
        return _Rel.EQUAL
    if old_set < new_set:
        return _Rel.WIDER
    return _Rel.NARROWER if old_set > new_set else _Rel.INCOMPARABLE


def _exact(old: Any, new: Any) -> _Rel:
    """A constraint that either holds or not: adding it narrows, dropping it widens."""
    if old == new:
        return _Rel.EQUAL
    if old is None:
        return _Rel.NARROWER
    return _Rel.WIDER if new is None else _Rel.INCOMPARABLE


def _limit(old: Any, new: Any, *, lower: bool = True) -> _Rel:
    """A bound (absent means unbounded): a higher lower bound or a lower upper bound narrows."""
    rel = _exact(old, new)
    if rel is not _Rel.INCOMPARABLE:
        return rel
    return _Rel.NARROWER if (new > old if lower else new < old) else _Rel.WIDER


def _limits(old: Schema, new: Schema, low: str, high: str) -> tuple[_Rel, _Rel]:
    return _limit(old.get(low), new.get(low)), _limit(old.get(high), new.get(high), lower=False)


def _bounds(node: Schema) -> tuple[tuple[float, int] | None, tuple[float, int] | None]:
    # (value, strictness): at one value an exclusive bound is the tighter one.
    lows = [(node[k], s) for k, s in (("minimum", 0), ("exclusiveMinimum", 1)) if k in node]
    highs = [(node[k], s) for k, s in (("maximum", 0), ("exclusiveMaximum", -1)) if k in node]
    if node.get("type") == "integer":  # `> 0` and `>= 1` accept the same integers
        lows = [(math.floor(v) + 1 if s else math.ceil(v), 0) for v, s in lows]
        highs = [(math.ceil(v) - 1 if s else math.floor(v), 0) for v, s in highs]
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _openness(extra: Any) -> int:
    if extra is True or extra == {}:
        return 2
    return 1 if isinstance(extra, Mapping) else 0


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _show(value: Any) -> str:
    return "(none)" if value is _MISSING else _canon(value)


def _name(branch: Schema) -> str | None:
    ref = branch.get("x-ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    title = branch.get("title")
    return title if isinstance(title, str) and _kind(branch) == "object" else None


def _branch_key(branch: Schema) -> str:
    return _name(branch) or _canon({k: v for k, v in branch.items() if k not in _IGNORED})


def _describe(branches: Branches) -> str:
    return " | ".join(_describe_branch(branch) for branch in branches) or "nothing"


def _describe_branch(branch: Schema) -> str:
    values = _values(branch)
    if values is not None:
        return " | ".join(_canon(value) for value in values)
    shown = sorted(_SHOWN & branch.keys())
    limits = ", ".join(
        f"{key}={'{...}' if isinstance(branch[key], Mapping) else _canon(branch[key])}"
        for key in shown
    )
    label = _name(branch) or _kind(branch)
    return f"{label}({limits})" if limits else label
