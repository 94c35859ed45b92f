"""Snapshot comparison: every difference is additive or breaking, depending on who reads the data.

The schemas are written by hand the way pydantic v2's `model_json_schema()` emits them. Each schema
row runs three times: as a call's argument (input), as its result and as an event (outputs).
"""

from __future__ import annotations

import ast
import copy
import inspect
import sys
from types import ModuleType
from typing import Any

import pytest

from cleave.contracts import compat, schema_compat
from cleave.contracts.compat import Change, check, compare

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
    return model({"value": field}, **{"$defs": defs})


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
FIELD_TYPE_ROWS: list[tuple[str, Schema, Schema, str, str]] = [
    ("optional added widens", STR, {"anyOf": [STR, NULL]}, "additive", "breaking"),
    ("optional removed narrows", {"anyOf": [STR, NULL]}, STR, "breaking", "additive"),
    ("a union member removed narrows", {"anyOf": [STR, INT]}, STR, "breaking", "additive"),
    ("an enum value added widens", enum("a", "b"), enum("a", "b", "c"), "additive", "breaking"),
    ("an enum value removed narrows", enum("a", "b"), enum("a"), "breaking", "additive"),
    ("a changed const is incomparable", const("a"), const("b"), "breaking", "breaking"),
    ("a const grown into an enum widens", const("a"), enum("a", "b"), "additive", "breaking"),
    ("integer to number widens", INT, NUM, "additive", "breaking"),
    ("number to integer narrows", NUM, INT, "breaking", "additive"),
    ("string to integer is incomparable", STR, INT, "breaking", "breaking"),
    ("a lowered max length narrows", text(maxLength=9), text(maxLength=5), "breaking", "additive"),
    ("a raised max length widens", text(maxLength=5), text(maxLength=9), "additive", "breaking"),
    ("a raised minimum narrows", whole(minimum=1), whole(minimum=5), "breaking", "additive"),
    ("a dropped minimum widens", {**NUM, "minimum": 5}, NUM, "additive", "breaking"),
    ("a dropped multiple of widens", whole(multipleOf=2), INT, "additive", "breaking"),
    ("a new pattern is incomparable", text(pattern="a"), text(pattern="b"), "breaking", "breaking"),
    ("an added pattern narrows", STR, text(pattern="^a"), "breaking", "additive"),
    ("an added format narrows", STR, text(format="email"), "breaking", "additive"),
    ("a removed format widens", text(format="email"), STR, "additive", "breaking"),
    ("a list becoming a set narrows", LIST, {**LIST, "uniqueItems": True}, "breaking", "additive"),
]


@pytest.mark.parametrize(
    ("old", "new", "as_input", "as_output"),
    [pytest.param(*row, id=what) for what, *row in FIELD_TYPE_ROWS],
)
def test_a_field_type_change_is_classified_for_callers_and_for_consumers(
    old: Schema, new: Schema, as_input: str, as_output: str
) -> None:
    assert_classified(*value(old, new), [(F, as_input)], [(F, as_output)])


def test_equivalent_integer_bounds_are_no_change() -> None:
    assert_classified(*value(whole(exclusiveMinimum=0), whole(minimum=1)), [], [])


def test_documentation_changes_are_ignored() -> None:
    documented = {"title": "Renamed", "description": "Now documented", "examples": ["x"]}
    assert_classified(*value({"title": "Value", **STR}, {**documented, **STR}), [], [])


SCHEMA_CASES = [
    pytest.param(
        USER,
        model({"user_id": INT}),
        [(".email", "breaking")],
        [(".email", "breaking")],
        id="a removed field breaks callers and consumers",
    ),
    pytest.param(
        USER,
        model({"user_id": INT, "mail": STR}),
        [(".email", "breaking"), (".mail", "breaking")],
        [(".email", "breaking"), (".mail", "breaking")],
        id="a renamed field is a removal plus a required addition",
    ),
    pytest.param(
        USER,
        model({**USER["properties"], "nickname": optional(STR)}, ["user_id", "email"]),
        [(".nickname", "additive")],
        [(".nickname", "additive")],
        id="a new optional field is additive",
    ),
    pytest.param(
        USER,
        model({**USER["properties"], "nickname": STR}),
        [(".nickname", "breaking")],
        [(".nickname", "breaking")],
        id="a new required field is breaking",
    ),
    pytest.param(
        model({"value": {"default": "", "type": "string"}}, []),
        model({"value": STR}),
        [(F, "breaking"), (F, "additive")],
        [(F, "breaking"), (F, "additive")],
        id="an optional field becoming required breaks both (its default going is additive)",
    ),
    pytest.param(
        model({"value": STR}),
        model({"value": {"default": "", "type": "string"}}, []),
        [(F, "additive"), (F, "additive")],
        [(F, "breaking"), (F, "additive")],
        id="a required field becoming optional is additive for callers only",
    ),
    pytest.param(
        model({"value": {"default": 1, "type": "integer"}}, []),
        model({"value": {"default": 2, "type": "integer"}}, []),
        [(F, "additive")],
        [(F, "additive")],
        id="a changed default is additive",
    ),
    pytest.param(
        with_refs(ref("Color"), Color={**enum("red"), "title": "Color"}),
        with_refs(ref("Color"), Color={**enum("red", "green"), "title": "Color"}),
        [(F, "additive")],
        [(F, "breaking")],
        id="an enum class behind a ref gaining a value widens",
    ),
    pytest.param(
        with_refs(ref("Address"), Address=ADDRESS),
        with_refs(ref("Address"), Address=ADDRESS_WITHOUT_CITY),
        [(".value.city", "breaking")],
        [(".value.city", "breaking")],
        id="a field removed from a nested model behind a ref breaks",
    ),
    pytest.param(
        with_refs(optional(ref("Address")), Address=ADDRESS),
        with_refs(optional(ref("Address")), Address=ADDRESS_WITH_ZIP),
        [(".value.zip", "additive")],
        [(".value.zip", "additive")],
        id="a nested optional model gaining an optional field is additive",
    ),
    pytest.param(
        *value(LIST, {**LIST, "items": NUM}),
        [(".value[]", "additive")],
        [(".value[]", "breaking")],
        id="array items are compared too",
    ),
    pytest.param(
        *value(
            {"additionalProperties": NUM, "type": "object"},
            {"additionalProperties": INT, "type": "object"},
        ),
        [(".value{}", "breaking")],
        [(".value{}", "additive")],
        id="mapping values are compared too",
    ),
    pytest.param(
        USER,
        {k: v for k, v in USER.items() if k != "additionalProperties"},
        [("", "additive")],
        [("", "breaking")],
        id="allowing unknown keys widens",
    ),
    pytest.param(
        node({"label": STR, "children": CHILDREN}),
        node({"children": CHILDREN}),
        [(".label", "breaking")],
        [(".label", "breaking")],
        id="a recursive model is compared once and the walk ends",
    ),
    pytest.param(
        with_refs({"anyOf": [ref("Cat"), ref("Dog")]}, Cat=CAT, Dog=DOG),
        with_refs({"anyOf": [ref("Cat"), ref("Dog"), ref("Bird")]}, Cat=CAT, Dog=DOG, Bird=BIRD),
        [(F, "additive")],
        [(F, "breaking")],
        id="a union of models gaining a member widens",
    ),
    pytest.param(
        with_refs({"oneOf": [ref("Cat"), ref("Dog")]}, Cat=CAT, Dog=DOG),
        with_refs({"oneOf": [ref("Cat"), ref("Dog")]}, Cat=CAT_WITH_NAME, Dog=DOG),
        [(".value(Cat).name", "additive")],
        [(".value(Cat).name", "additive")],
        id="members of a union of models are compared field by field",
    ),
    pytest.param(
        *value(
            {"prefixItems": [INT, STR], "type": "array"},
            {"prefixItems": [INT, INT], "type": "array"},
        ),
        [(F, "breaking")],
        [(F, "breaking")],
        id="a keyword the check does not understand is breaking when it changes",
    ),
]


@pytest.mark.parametrize(("old", "new", "as_input", "as_output"), SCHEMA_CASES)
def test_a_schema_change_is_classified_for_callers_and_for_consumers(
    old: Schema, new: Schema, as_input: Expected, as_output: Expected
) -> None:
    assert_classified(old, new, as_input, as_output)


BASE = snapshot()
NOTHING: dict[str, Any] = {"format": 1, "contexts": {}}

NO_CALL = without(BASE, "contexts", "identity", "calls", "user_get")
NO_EVENT = without(BASE, "contexts", "identity", "events", "UserDeleted")
MORE_ERRORS = snapshot(errors=("user_banned", "user_not_found"))
CALL, EVENT = "identity.calls.user_get", "identity.events.UserDeleted"
ERRORS = f"{CALL}.errors"

# (what, old, new, where the one change is, its kind)
CONTRACT_ROWS: list[tuple[str, dict[str, Any], dict[str, Any], str, str]] = [
    ("a removed call breaks", BASE, NO_CALL, CALL, "breaking"),
    ("a new call is additive", NO_CALL, BASE, CALL, "additive"),
    ("a removed event breaks", BASE, NO_EVENT, EVENT, "breaking"),
    ("a new event is additive", NO_EVENT, BASE, EVENT, "additive"),
    ("a call no longer idempotent breaks", BASE, snapshot(idempotent=False), CALL, "breaking"),
    ("a call turned idempotent is additive", snapshot(idempotent=False), BASE, CALL, "additive"),
    ("an error code added is reported", BASE, MORE_ERRORS, ERRORS, "additive"),
    ("an error code removed is reported", BASE, snapshot(errors=()), ERRORS, "additive"),
    ("a lowered event version breaks", snapshot(event_version=2), BASE, EVENT, "breaking"),
    ("a raised event version is additive", BASE, snapshot(event_version=2), EVENT, "additive"),
    ("a removed context breaks", BASE, NOTHING, "identity", "breaking"),
    ("a new context is additive", NOTHING, BASE, "identity", "additive"),
    ("a lowered version breaks", snapshot(version="1.2"), BASE, "identity", "breaking"),
    ("a raised version is additive", BASE, snapshot(version="1.1"), "identity", "additive"),
]


@pytest.mark.parametrize(
    ("old", "new", "where", "kind"),
    [pytest.param(*row, id=what) for what, *row in CONTRACT_ROWS],
)
def test_a_contract_change_is_classified(
    old: dict[str, Any], new: dict[str, Any], where: str, kind: str
) -> None:
    assert [(change.where, change.kind) for change in compare(old, new)] == [(where, kind)]


def test_identical_snapshots_give_no_changes() -> None:
    assert compare(BASE, snapshot()) == []
    assert check(BASE, snapshot()).ok


REMOVED_EMAIL = model({"user_id": INT})
ADDED_NICKNAME = model({**USER["properties"], "nickname": optional(STR)}, ["user_id", "email"])
EMAIL = "identity.calls.user_get.result.email"

# (what, old version, new version, new result schema, where the failures are)
CHECK_ROWS: list[tuple[str, str, str, Schema, list[str]]] = [
    ("a major bump lets a breaking change pass", "1.2", "2.0", REMOVED_EMAIL, []),
    ("a minor bump does not", "1.2", "1.3", REMOVED_EMAIL, [EMAIL]),
    ("no bump does not", "1.2", "1.2", REMOVED_EMAIL, [EMAIL]),
    ("additive changes pass without a bump", "1.2", "1.2", ADDED_NICKNAME, []),
    ("a lowered version fails on its own", "2.0", "1.9", USER, ["identity"]),
]


@pytest.mark.parametrize(
    ("was", "now", "result", "failures"),
    [pytest.param(*row, id=what) for what, *row in CHECK_ROWS],
)
def test_check_lets_breaking_changes_through_only_with_a_major_bump(
    was: str, now: str, result: Schema, failures: list[str]
) -> None:
    verdict = check(snapshot(version=was), snapshot(version=now, result=result))

    assert [change.where for change in verdict.failures] == failures
    assert verdict.ok is not failures
    assert verdict.changes, "every row changes something"


def test_a_breaking_change_let_through_by_a_major_bump_is_still_reported() -> None:
    verdict = check(snapshot(version="1.2"), snapshot(version="2.0", result=REMOVED_EMAIL))

    assert verdict.ok
    assert (EMAIL, "breaking") in [(change.where, change.kind) for change in verdict.changes]


def test_a_major_bump_in_one_context_does_not_excuse_another() -> None:
    old = merged(snapshot(context="identity"), snapshot(context="chat"))
    new = merged(
        snapshot(context="identity", version="2.0", result=REMOVED_EMAIL),
        snapshot(context="chat", result=REMOVED_EMAIL),
    )

    verdict = check(old, new)

    assert [(c.context, c.where) for c in verdict.failures] == [
        ("chat", "chat.calls.user_get.result.email")
    ]


def test_a_removed_context_fails_the_check() -> None:
    verdict = check(BASE, NOTHING)

    assert verdict.failures == [Change("identity", "identity", "breaking", "context removed")]


def test_changes_say_what_happened_in_a_sentence() -> None:
    old = snapshot(argument=model({"email": STR}), result=model({"email": STR}))
    new = snapshot(argument=model({}), result=model({"email": {"anyOf": [STR, NULL]}}))

    changes = compare(old, new)

    assert [str(change) for change in changes] == [
        "identity.calls.user_get.argument.email: field 'email' removed [breaking]",
        "identity.calls.user_get.result.email: type widened from string to string | null "
        "[breaking]",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        pytest.param(
            BASE, {**BASE, "format": 2}, "unsupported snapshot format", id="unknown format"
        ),
        pytest.param(BASE, snapshot(version="2"), "MAJOR.MINOR", id="version without minor"),
        pytest.param(BASE, snapshot(result=ref("Missing")), "does not resolve", id="dangling ref"),
        pytest.param(
            BASE,
            snapshot(result={"$defs": {"A": ref("B"), "B": ref("A")}, **ref("A")}),
            "leads back to itself",
            id="ref cycle",
        ),
    ],
)
def test_a_malformed_snapshot_is_refused_with_a_clear_message(
    old: dict[str, Any], new: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        compare(old, new)


@pytest.mark.parametrize(
    ("module", "allowed"),
    [
        pytest.param(compat, {"cleave.contracts.schema_compat"}, id="compat"),
        pytest.param(schema_compat, set(), id="schema_compat"),
    ],
)
def test_compat_imports_only_the_standard_library(module: ModuleType, allowed: set[str]) -> None:
    tree = ast.parse(inspect.getsource(module))
    imported = {
        item.module if isinstance(item, ast.ImportFrom) else alias.name
        for item in ast.walk(tree)
        if isinstance(item, ast.Import | ast.ImportFrom)
        for alias in item.names
    }
    standard = set(sys.stdlib_module_names) | {"__future__"}

    assert {name for name in imported if str(name).split(".")[0] not in standard} <= allowed


def test_the_public_surface_is_sorted_and_deliberate() -> None:
    assert compat.__all__ == sorted(compat.__all__) == ["Change", "Verdict", "check", "compare"]
