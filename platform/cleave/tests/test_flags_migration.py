"""Migrations 0003-0004: waffle's user and group assignments of a flag become its user ids and
roles, the change log keeps its entries and records the conversion, and the relations go."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from django.apps.registry import Apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from cleave.flags.models import Flag, FlagChange

pytestmark = pytest.mark.django_db(transaction=True)
ASSIGNMENTS = ("cleave", "0002_flags")
CONVERTED = ("cleave", "0004_flag_without_user_relations")
ACTOR = "migration cleave.0003 (waffle's user and group assignments)"


def _migrate(cleave_target: tuple[str, str]) -> Apps:
    """Every other app at its latest, the kernel at `cleave_target`; the models of that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    targets = [
        cleave_target,
        *(leaf for leaf in executor.loader.graph.leaf_nodes() if leaf[0] != "cleave"),
    ]
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def before_conversion() -> Iterator[Apps]:
    yield _migrate(ASSIGNMENTS)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def _assign(old: Apps) -> dict[str, Any]:
    """Given: flags as waffle's admin left them, with a kill switch and some history."""
    flag, group, switch = (
        cast(Any, old.get_model("cleave", "Flag")),
        cast(Any, old.get_model("auth", "Group")),
        cast(Any, old.get_model("waffle", "Switch")),
    )
    user = flag._meta.get_field("users").related_model
    assigned, tester, listed = (
        user.objects.create(email=f"{name}@example.com", password="!")
        for name in ("assigned", "tester", "listed")
    )
    moderators = group.objects.get_or_create(name="moderator")[0]
    beta = group.objects.create(name="beta-testers")
    tester.groups.add(beta)
    canary = flag.objects.create(name="canary", percent=5, user_ids=[listed.pk], roles=["staff"])
    canary.users.add(assigned)
    canary.groups.add(moderators, beta)
    flag.objects.create(name="untouched", everyone=True)
    switch.objects.create(name="kill:canary", active=True)
    old.get_model("cleave", "FlagChange").objects.create(
        flag_name="canary", actor="ops@example.com", before=None, after={"percent": 5.0}
    )
    return {"assigned": assigned.pk, "tester": tester.pk, "listed": listed.pk}


def test_assignments_become_user_ids_and_roles_and_the_history_says_so(
    before_conversion: Apps,
) -> None:
    ids = _assign(before_conversion)

    _migrate(CONVERTED)

    canary = Flag.objects.get(name="canary")
    # The listed id stays first; the assigned user and the free-form group's member join it.
    assert canary.user_ids == [ids["listed"], *sorted([ids["assigned"], ids["tester"]])]
    assert canary.roles == ["staff", "moderator"]
    untouched = Flag.objects.get(name="untouched")
    assert (untouched.user_ids, untouched.roles) == ([], [])
    history = list(FlagChange.objects.filter(flag_name="canary").order_by("id"))
    assert [change.actor for change in history] == ["ops@example.com", ACTOR]
    conversion = history[1]
    assert conversion.before is not None
    assert conversion.after is not None
    assert (conversion.before["user_ids"], conversion.before["roles"]) == (
        [ids["listed"]],
        ["staff"],
    )
    assert conversion.after["user_ids"] == canary.user_ids
    assert conversion.after["roles"] == canary.roles
    assert (conversion.before["killed"], conversion.after["percent"]) == (True, 5.0)
    assert not FlagChange.objects.filter(flag_name="untouched").exists()
    tables = set(connection.introspection.table_names())
    assert {"cleave_flag_users", "cleave_flag_groups"}.isdisjoint(tables)


def test_backwards_the_lists_stay_and_the_relations_return_empty(before_conversion: Apps) -> None:
    ids = _assign(before_conversion)
    _migrate(CONVERTED)

    old = _migrate(ASSIGNMENTS)

    canary = cast(Any, old.get_model("cleave", "Flag")).objects.get(name="canary")
    assert ids["assigned"] in canary.user_ids
    assert (canary.users.count(), canary.groups.count()) == (0, 0)
