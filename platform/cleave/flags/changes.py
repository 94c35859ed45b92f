"""Changing flags: every change is audited, announced to every process and every socket."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.forms.models import model_to_dict
from waffle.models import Switch

from cleave.flags.definitions import KILL_PREFIX, bump_version
from cleave.flags.models import Flag, FlagChange

FLAGS_STREAM = "flags"
EDITABLE = (
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


def snapshot(flag: Flag | None, *, killed: bool | None = None) -> dict[str, Any] | None:
    if flag is None:
        return None
    data = model_to_dict(flag, fields=EDITABLE)
    data["percent"] = float(flag.percent) if flag.percent is not None else None
    data["killed"] = is_killed(flag.name) if killed is None else killed
    return data


def is_killed(name: str) -> bool:
    return Switch.objects.filter(name=f"{KILL_PREFIX}{name}", active=True).exists()


def announce() -> None:
    """After commit: processes reload within a second, sockets hear `flags.changed` at once."""
    from cleave.realtime import push

    version = bump_version()
    push(FLAGS_STREAM, "flags.changed", {"version": version})


def flag_save(*, name: str, changes: dict[str, Any], actor: str) -> Flag:
    """Create or update a flag from `changes` (EDITABLE fields), audited."""
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(name=name).first()
        before = snapshot(flag)
        flag = flag or Flag(name=name)
        for field, value in changes.items():
            if field not in EDITABLE:
                raise ValueError(f"{field} cannot be changed here")
            setattr(flag, field, value)
        flag.save()
        FlagChange.objects.create(flag_name=name, actor=actor, before=before, after=snapshot(flag))
        transaction.on_commit(announce)
    return flag


def flag_kill(*, name: str, killed: bool, actor: str) -> None:
    """Turn a flag's kill switch on (off for everyone, whatever its rules) or off, audited."""
    with transaction.atomic():
        flag = Flag.objects.select_for_update().get(name=name)
        before = snapshot(flag)
        Switch.objects.update_or_create(
            name=f"{KILL_PREFIX}{name}",
            defaults={"active": killed, "note": f"kill switch of {name}"},
        )
        FlagChange.objects.create(
            flag_name=name, actor=actor, before=before, after=snapshot(flag, killed=killed)
        )
        transaction.on_commit(announce)


def flag_delete(*, name: str, actor: str) -> None:
    """Delete a flag (its kill switch too), audited: the last entry's `after` is None."""
    with transaction.atomic():
        flag = Flag.objects.select_for_update().filter(name=name).first()
        if flag is None:
            return
        before = snapshot(flag)
        flag.delete()
        Switch.objects.filter(name=f"{KILL_PREFIX}{name}").delete()
        FlagChange.objects.create(flag_name=name, actor=actor, before=before, after=None)
        transaction.on_commit(announce)
