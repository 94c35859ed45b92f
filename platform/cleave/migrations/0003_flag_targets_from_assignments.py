"""Waffle's per-user and per-group assignments of a flag become its `user_ids` and `roles`.

Cleave's evaluation has only ever read the two lists; the relations (a many-to-many into the
user table and one into auth's groups) held what waffle's admin assigned. Assigned users join
`user_ids`; a group named after a role joins `roles`; any other group's members join `user_ids`
(a token carries roles, never free-form groups, so only its members can keep the flag). Each
changed flag gets an entry in the change log, beside the entries it had, so the history says
where the new ids and roles came from. Migration 0004 then drops the relations.

Backwards this changes nothing: the lists keep targeting as they did, and 0004 brings the
relations back empty.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db import migrations, router
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.utils import timezone

# Frozen as they were when this migration was written (cleave.auth.principal.ROLES and
# cleave.flags.changes.EDITABLE may change later; this migration must not).
ROLES = ("user", "moderator", "staff", "admin")
SNAPSHOT_FIELDS = (
    "everyone",
    "percent",
    "client_visible",
    "platforms",
    "min_app_version",
    "max_app_version",
    "user_ids",
    "roles",
    "environments",
    "variants",
    "note",
)
ACTOR = "migration cleave.0003 (waffle's user and group assignments)"


def _pairs(through: Any, alias: str, left: str, right: str, **filters: Any) -> dict[int, set[int]]:
    """`left` id → the `right` ids it is linked to in a many-to-many table."""
    linked: dict[int, set[int]] = defaultdict(set)
    for one, other in through.objects.using(alias).filter(**filters).values_list(left, right):
        linked[one].add(other)
    return linked


def _snapshot(flag: Any, *, killed: bool) -> dict[str, Any]:
    """The shape cleave.flags.changes.snapshot gave every entry of the log at this point."""
    data = {field: getattr(flag, field) for field in SNAPSHOT_FIELDS}
    data["percent"] = float(flag.percent) if flag.percent is not None else None
    data["killed"] = killed
    return data


def _group_names(apps: StateApps, group_ids: set[int]) -> dict[int, str]:
    group_model = apps.get_model("auth", "Group")
    found = group_model.objects.using(router.db_for_read(group_model)).filter(pk__in=group_ids)
    return dict(found.values_list("pk", "name"))


def _members(user_model: Any, group_ids: set[int]) -> dict[int, set[int]]:
    """Group id → its members' ids. Membership lives with the user model, possibly in another
    database than the flags."""
    if not group_ids:
        return {}
    membership = user_model._meta.get_field("groups").remote_field.through
    alias = router.db_for_read(membership)
    groups_of_user = _pairs(membership, alias, "user_id", "group_id", group_id__in=group_ids)
    members: dict[int, set[int]] = defaultdict(set)
    for user_id, groups in groups_of_user.items():
        for group_id in groups:
            members[group_id].add(user_id)
    return members


def assignments_to_targets(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    alias = schema_editor.connection.alias
    flag_model = apps.get_model("cleave", "Flag")
    users_field = flag_model._meta.get_field("users")
    users_of = _pairs(users_field.remote_field.through, alias, "flag_id", "user_id")
    groups_through = flag_model._meta.get_field("groups").remote_field.through
    groups_of = _pairs(groups_through, alias, "flag_id", "group_id")
    if not users_of and not groups_of:
        return  # nothing assigned here (the usual case, and every database but the flags home)

    names = _group_names(apps, set().union(*groups_of.values()))
    role_of = {pk: name for pk, name in names.items() if name in ROLES}
    members_of = _members(users_field.related_model, set(names) - set(role_of))
    switch_model = apps.get_model("waffle", "Switch")
    flag_change_model = apps.get_model("cleave", "FlagChange")
    for flag in flag_model.objects.using(alias).filter(pk__in={*users_of, *groups_of}):
        groups = groups_of.get(flag.pk, set())
        user_ids = set(users_of.get(flag.pk, set())).union(
            *(members_of.get(group_id, set()) for group_id in groups)
        )
        roles = {role_of[group_id] for group_id in groups if group_id in role_of}
        new_ids = sorted(user_ids - set(flag.user_ids))
        new_roles = sorted(roles - set(flag.roles))
        if not new_ids and not new_roles:
            continue
        killed = (
            switch_model.objects.using(router.db_for_read(switch_model))
            .filter(name=f"kill:{flag.name}", active=True)
            .exists()
        )
        before = _snapshot(flag, killed=killed)
        flag.user_ids = [*flag.user_ids, *new_ids]
        flag.roles = [*flag.roles, *new_roles]
        flag.save(using=alias, update_fields=["user_ids", "roles"])
        flag_change_model.objects.using(alias).create(
            flag_name=flag.name,
            actor=ACTOR,
            changed_at=timezone.now(),
            before=before,
            after=_snapshot(flag, killed=killed),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("cleave", "0002_flags"),
        ("waffle", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(assignments_to_targets, migrations.RunPython.noop, elidable=False)
    ]
