"""Schema comparison: each difference is additive or breaking, depending on who reads the data.

Each schema row runs three times: as a call's argument (input), as its result and as an event
(outputs).
"""

from __future__ import annotations

import pytest

from cleave.tests.compat_schemas import (
    ADDRESS,
    ADDRESS_WITH_ZIP,
    ADDRESS_WITHOUT_CITY,
    BIRD,
    CAT,
    CAT_WITH_NAME,
    CHILDREN,
    DOG,
    INT,
    LIST,
    NULL,
    NUM,
    STR,
    USER,
    Expected,
    F,
    Schema,
    assert_classified,
    const,
    enum,
    model,
    node,
    optional,
    ref,
    text,
    value,
    whole,
    with_refs,
)

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
