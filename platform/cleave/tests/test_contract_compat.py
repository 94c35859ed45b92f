"""Snapshot comparison at the contract level: calls, events, versions, errors, the verdict."""

from __future__ import annotations

import ast
import inspect
import sys
from types import ModuleType
from typing import Any

import pytest

from cleave.contracts import compat, schema_compat
from cleave.contracts.compat import Change, check, compare
from cleave.tests.compat_schemas import (
    INT,
    NULL,
    STR,
    USER,
    Schema,
    merged,
    model,
    optional,
    ref,
    snapshot,
    without,
)

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
