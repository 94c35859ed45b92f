"""Compare two snapshots of the published contracts and say which differences break someone.

A snapshot maps each context to its "MAJOR.MINOR" version, its calls (argument and result
schemas, idempotency, error codes) and its events (version and schema); schemas are pydantic v2
JSON schemas. A call's argument is an INPUT (callers send it); its result and an event's schema
are OUTPUTS (consumers receive them). `check` lets a context's breaking changes through only
when that context's major version went up.

    contract difference                          kind
    context, call or event added / removed       additive / breaking
    context version or event version lowered     breaking
    idempotent true -> false / false -> true     breaking (callers' retries relied on it) / additive
    error code added or removed                  additive, reported all the same
    a difference in a schema                     see `cleave.contracts.schema_compat`

Standard library (and schema_compat) only, so CI can run it without Django or pydantic.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cleave.contracts.schema_compat import Direction, Kind, Schema, compare_schemas

__all__ = ["Change", "Verdict", "check", "compare"]

SNAPSHOT_FORMAT = 1


@dataclass(frozen=True)
class Change:
    """One difference: where it is, whether it breaks anyone, and a sentence saying what it is."""

    context: str
    where: str  # "identity.calls.user_get.argument.email", "identity.events.UserDeleted"
    kind: Kind
    what: str  # "field 'email' removed", "type narrowed from string | null to string"

    def __str__(self) -> str:
        return f"{self.where}: {self.what} [{self.kind}]"


@dataclass(frozen=True)
class Verdict:
    """Every change, and the breaking ones not covered by a major version bump."""

    changes: list[Change]
    failures: list[Change]

    @property
    def ok(self) -> bool:
        return not self.failures


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Every difference between two snapshots, in a stable order (context, then path)."""
    old_contexts, new_contexts = _contexts(old), _contexts(new)
    changes: list[Change] = []
    for name in sorted(old_contexts.keys() | new_contexts.keys()):
        if name not in new_contexts:
            changes.append(Change(name, name, "breaking", "context removed"))
        elif name not in old_contexts:
            changes.append(Change(name, name, "additive", "context added"))
        else:
            changes += _compare_context(name, old_contexts[name], new_contexts[name])
    return changes


def check(old: Mapping[str, Any], new: Mapping[str, Any]) -> Verdict:
    """Breaking changes in a context pass only if its major version went up since `old`."""
    changes = compare(old, new)
    old_contexts, new_contexts = _contexts(old), _contexts(new)
    bumped = {
        name
        for name in old_contexts.keys() & new_contexts.keys()
        if _version(new_contexts[name], name)[0] > _version(old_contexts[name], name)[0]
    }
    failures = [c for c in changes if c.kind == "breaking" and c.context not in bumped]
    return Verdict(changes=changes, failures=failures)


def _contexts(snapshot: Mapping[str, Any]) -> Mapping[str, Any]:
    if snapshot.get("format") != SNAPSHOT_FORMAT:
        raise ValueError(f"unsupported snapshot format {snapshot.get('format')!r}")
    contexts: Mapping[str, Any] = snapshot.get("contexts", {})
    return contexts


def _version(context: Mapping[str, Any], name: str) -> tuple[int, int]:
    raw = context.get("version")
    major, dot, minor = str(raw).partition(".")
    if not (dot and major.isdigit() and minor.isdigit()):
        raise ValueError(f"context {name!r}: version {raw!r} is not 'MAJOR.MINOR'")
    return int(major), int(minor)


def _compare_context(name: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    changes: list[Change] = []
    was, now = _version(old, name), _version(new, name)
    changes += _bump(name, name, "version", was, now, (old["version"], new["version"]))
    for section in ("calls", "events"):
        olds, news = old.get(section, {}), new.get(section, {})
        noun = section[:-1]
        for member in sorted(olds.keys() | news.keys()):
            where = f"{name}.{section}.{member}"
            if member not in news:
                changes.append(Change(name, where, "breaking", f"{noun} '{member}' removed"))
            elif member not in olds:
                changes.append(Change(name, where, "additive", f"{noun} '{member}' added"))
            elif section == "calls":
                changes += _compare_call(name, where, olds[member], news[member])
            else:
                changes += _compare_event(name, where, olds[member], news[member])
    return changes


def _compare_call(context: str, where: str, old: Schema, new: Schema) -> list[Change]:
    changes = _compare_schema(context, "input", old, new, where, "argument")
    changes += _compare_schema(context, "output", old, new, where, "result")
    was, now = bool(old.get("idempotent")), bool(new.get("idempotent"))
    if was and not now:
        changes.append(Change(context, where, "breaking", "no longer idempotent"))
    elif now and not was:
        changes.append(Change(context, where, "additive", "now idempotent"))
    old_errors, new_errors = set(old.get("errors", ())), set(new.get("errors", ()))
    for code in sorted(old_errors ^ new_errors):
        verb = "added" if code in new_errors else "removed"
        what = f"error code '{code}' {verb}"
        changes.append(Change(context, f"{where}.errors", "additive", what))
    return changes


def _compare_event(context: str, where: str, old: Schema, new: Schema) -> list[Change]:
    was, now = old.get("version", 1), new.get("version", 1)
    changes = _bump(context, where, "event version", was, now, (was, now))
    changes += _compare_schema(context, "output", old, new, where, "schema")
    return changes


def _bump(
    context: str, where: str, label: str, was: Any, now: Any, shown: tuple[Any, Any]
) -> list[Change]:
    """A version that went up is additive; one that went down is breaking."""
    if now == was:
        return []
    kind: Kind = "breaking" if now < was else "additive"
    verb = "went down" if now < was else "went up"
    return [Change(context, where, kind, f"{label} {verb} from {shown[0]} to {shown[1]}")]


def _compare_schema(
    context: str, direction: Direction, old: Schema, new: Schema, where: str, key: str
) -> list[Change]:
    found = compare_schemas(direction, old[key], new[key], f"{where}.{key}")
    return [Change(context, change.where, change.kind, change.what) for change in found]
