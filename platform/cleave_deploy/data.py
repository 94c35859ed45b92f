"""Move one context's rows between databases, with a manifest that proves nothing changed.

The file is JSON Lines: a header, then one row per line in Django's "python" serialization
(`{"model", "pk", "fields"}`, dependency order), then the manifest (rows and a SHA-256 per model,
and one over all). Each line is the row's canonical form (sorted keys, full-precision times,
sorted many-to-many lists), so the checksum of a database's rows can be recomputed anywhere,
from SQLite or PostgreSQL, and compared with the file's.

What moves: every concrete model of the context's app; the kernel's inbox entries and failed
deliveries of its subscribers (`<context>.*`), so a redelivery after the move is still seen as a
duplicate and a retry still happens; and "companions", the models the context's many-to-many
fields point at outside it (the edge context's User → auth.Group).

Ids differ between databases for rows that migrations create (permissions, content types,
the role groups of the contexts' declarations), so those are referred to by natural key
(`["add_user", "<context>", "user"]`, `["staff"]`), never by id. Permissions and content types
are not moved at all: `migrate` recreates them. Companions are merged by natural key (a group
of the same name is updated, not duplicated) and their ids are not kept; the context's own rows
keep their ids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from graphlib import TopologicalSorter
from itertools import islice
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from django.apps import apps
from django.core import serializers
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.db.models import Model, Prefetch, QuerySet
from django.utils.duration import duration_iso_string

from cleave import contexts
from cleave.events.models import (
    AggregateSequence,
    FailedDelivery,
    InboxEntry,
    InboxPosition,
    OutboxEvent,
)
from cleave.progress import Progress
from cleave_deploy.data_events import EVENT_ROWS, SHARED, subject_key_rows, to_ordinals

FORMAT = "cleave.context_data/1"
# Recreated by `migrate` in every database: referenced by natural key, never moved.
RECREATED = frozenset({"auth.permission", "contenttypes.contenttype"})
# The kernel's rows that belong to one context: model → (the field whose "<context>." prefix
# says so, the natural-key order rows are written and hashed in). Its subscribers' inbox,
# failed deliveries and per-aggregate high-water marks, and the sequence numbers its published
# aggregates reached: left behind, the moved service would number an aggregate's next event 1
# and every subscriber holding a higher mark would park it as late.
KERNEL_ROWS: dict[type[Model], tuple[str, tuple[str, ...]]] = {
    InboxEntry: ("subscriber", ("subscriber", "event_id")),
    FailedDelivery: ("subscriber", ("subscriber", "event_id")),
    InboxPosition: ("subscriber", ("subscriber", "aggregate_id")),
    AggregateSequence: ("event_type", ("event_type", "aggregate_id")),
    # The event store's (cleave_deploy.data_events): events before the checkpoints that
    # point into them, each after the data keys its payload opens with (SHARED, first).
    **EVENT_ROWS,
}
KERNEL_MODELS: tuple[type[Model], ...] = (*SHARED, *KERNEL_ROWS)
CHUNK = 1000


class DataMoveError(Exception):
    """The move cannot go on: unknown context, non-empty target, or a mismatch."""


@dataclass(frozen=True)
class Plan:
    """What moves for one context, in an order that inserts referenced rows first."""

    context: str
    companions: tuple[type[Model], ...]
    models: tuple[type[Model], ...]
    kernel: tuple[type[Model], ...] = KERNEL_MODELS

    @property
    def all_models(self) -> tuple[type[Model], ...]:
        return (*self.companions, *self.models, *self.kernel)

    def tables(self) -> list[str]:
        """Every table touched, many-to-many tables included, in insert order."""
        tables = []
        for model in (*self.companions, *self.models):
            tables.append(model._meta.db_table)
            tables += [m2m.remote_field.through._meta.db_table for m2m in _auto_m2m(model)]
        return tables


@dataclass(frozen=True)
class Digest:
    rows: int
    sha256: str


@dataclass
class Manifest:
    """Row count and checksum per model (label → Digest), in plan order."""

    models: dict[str, Digest] = field(default_factory=dict)

    @property
    def sha256(self) -> str:
        lines = "".join(f"{label} {d.rows} {d.sha256}\n" for label, d in self.models.items())
        return hashlib.sha256(lines.encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {
            "models": {label: vars(digest) for label, digest in self.models.items()},
            "sha256": self.sha256,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls({label: Digest(**digest) for label, digest in data["models"].items()})

    def differences(self, other: Manifest) -> list[str]:
        """Human-readable differences, `self` expected and `other` found; empty when equal."""
        problems = []
        for label in dict.fromkeys([*self.models, *other.models]):
            want, got = self.models.get(label), other.models.get(label)
            if want != got:
                problems.append(f"{label}: expected {_describe(want)}, found {_describe(got)}")
        return problems


def _describe(digest: Digest | None) -> str:
    return "nothing" if digest is None else f"{digest.rows} rows sha256 {digest.sha256[:12]}…"


# --- The plan --------------------------------------------------------------------------------
def plan_for(context: str) -> Plan:
    """The plan for an installed context; DataMoveError names the installed ones otherwise."""
    hosted = {declaration.label: declaration.app for declaration in contexts.installed()}
    if context not in hosted:
        raise DataMoveError(f"unknown context {context!r}; installed: {sorted(hosted)}")
    config = apps.get_app_config(context)
    own = [m for m in config.get_models() if not m._meta.proxy and m._meta.managed]
    companions = sorted(
        {
            m2m.remote_field.model
            for model in own
            for m2m in _auto_m2m(model)
            if m2m.remote_field.model not in own
            and m2m.remote_field.model._meta.label_lower not in RECREATED
        },
        key=lambda model: model._meta.label_lower,
    )
    moved = {*own, *companions}
    for model in moved:
        for relation in _relations(model):
            target = relation.remote_field.model
            if target not in moved and target._meta.label_lower not in RECREATED:
                raise DataMoveError(
                    f"{model._meta.label}.{relation.name} points at {target._meta.label}, "
                    f"outside {context}: its rows cannot move on their own"
                )
    return Plan(context, tuple(_dependency_order(companions)), tuple(_dependency_order(own)))


def _auto_m2m(model: type[Model]) -> list[Any]:
    """Many-to-many fields whose table Django manages (an explicit `through` is its own model)."""
    # Django sets `through` on every m2m as the model class is built; the stubs allow None.
    return [
        f
        for f in model._meta.local_many_to_many
        if f.remote_field.through._meta.auto_created  # type: ignore[union-attr]
    ]


def _relations(model: type[Model]) -> list[Any]:
    return [f for f in model._meta.get_fields() if f.concrete and f.is_relation and f.remote_field]


def _dependency_order(models: Iterable[type[Model]]) -> list[type[Model]]:
    """Referenced models first (a FK's target before the FK); stable for a given app."""
    models = list(models)
    sorter: TopologicalSorter[type[Model]] = TopologicalSorter()
    for model in models:
        targets = {r.remote_field.model for r in _relations(model) if r.many_to_one or r.one_to_one}
        sorter.add(model, *(t for t in targets if t in models and t is not model))
    return list(sorter.static_order())


def _is_kernel(model: type[Model]) -> bool:
    return model in KERNEL_MODELS


def context_rows(plan: Plan, model: type[Model], alias: str) -> QuerySet[Any]:
    queryset = model._base_manager.using(alias)
    if model in SHARED:
        return subject_key_rows(plan.context, alias)
    if _is_kernel(model):
        # Kernel rows have no stable id across databases: order (and hash) by their natural key.
        owner, order = KERNEL_ROWS[model]
        prefix = f"{plan.context}."
        return queryset.filter(**{f"{owner}__startswith": prefix}).order_by(*order)
    prefetch = [
        Prefetch(
            m2m.name, queryset=m2m.remote_field.model._base_manager.using(alias).select_related()
        )
        for m2m in _auto_m2m(model)
    ]
    return queryset.order_by("pk").prefetch_related(*prefetch)


def _natural(plan: Plan, model: type[Model]) -> bool:
    """Refer to related rows by natural key when they live outside the context's own models."""
    return model in plan.companions or any(
        r.remote_field.model not in plan.models for r in _relations(model)
    )


# --- Canonical rows --------------------------------------------------------------------------
class _Encoder(DjangoJSONEncoder):
    """Full precision: DjangoJSONEncoder would cut datetimes to milliseconds."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime | date | time):
            return o.isoformat()
        if isinstance(o, timedelta):
            return duration_iso_string(o)
        if isinstance(o, Decimal | UUID):
            return str(o)
        return super().default(o)


def canonical(row: dict[str, Any]) -> str:
    """One row as the exact line written and hashed."""
    return json.dumps(row, cls=_Encoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def database_rows(plan: Plan, model: type[Model], alias: str) -> Iterator[str]:
    """The canonical lines of `model`'s moved rows in `alias`, in file order."""
    label = model._meta.label_lower
    natural = _natural(plan, model)
    keep_ids = model in plan.models
    m2m_names = {m2m.name for m2m in _auto_m2m(model)}
    rows = context_rows(plan, model, alias).iterator(chunk_size=CHUNK)
    companion_lines = []
    while chunk := list(islice(rows, CHUNK)):
        serialized = serializers.serialize(
            "python", chunk, use_natural_foreign_keys=natural, use_natural_primary_keys=not keep_ids
        )
        for row in serialized:
            fields = row["fields"]
            for name in m2m_names:
                fields[name] = sorted(fields[name], key=canonical)
            pk = row["pk"] if keep_ids else None
            to_ordinals(model, fields, context=plan.context, alias=alias)
            line = canonical({"model": label, "pk": pk, "fields": fields})
            if model in plan.companions:
                companion_lines.append(line)
            else:
                yield line
    # Companions have no id in common between databases: order them by content (they are
    # small). Kernel rows are already in their natural-key order.
    yield from sorted(companion_lines)


def _digest(lines: Iterable[str]) -> Digest:
    sha, rows = hashlib.sha256(), 0
    for line in lines:
        sha.update(line.encode() + b"\n")
        rows += 1
    return Digest(rows=rows, sha256=sha.hexdigest())


def database_manifest(plan: Plan, alias: str) -> Manifest:
    """Counts and checksums of what `plan` covers in database `alias`, as they are now."""
    return Manifest(
        {m._meta.label_lower: _digest(database_rows(plan, m, alias)) for m in plan.all_models}
    )


# --- Export ----------------------------------------------------------------------------------
def pending_outbox(context: str, alias: str) -> int:
    """Events the context published that were not handed off yet (they would stay behind)."""
    return OutboxEvent.objects.using(alias).filter(context=context, dispatched_at=None).count()


def export(plan: Plan, *, alias: str, out: IO[str], progress: Progress | None = None) -> Manifest:
    """Write the context's rows from `alias` to `out`; the manifest is hashed as rows stream.

    Run it with writes to the context stopped (see DATA_MOVE.md). On PostgreSQL the export
    also reads one snapshot (REPEATABLE READ), so the models agree with each other even if a
    late write slips in.
    """
    header = {"format": FORMAT, "context": plan.context}
    out.write(canonical({**header, "models": [m._meta.label_lower for m in plan.all_models]}))
    out.write("\n")

    def written(lines: Iterable[str]) -> Iterator[str]:
        for line in lines:
            out.write(line + "\n")
            if progress is not None:
                progress.advance()
            yield line

    manifest = Manifest()
    connection = connections[alias]
    # Only the outermost transaction may choose its isolation level (not so inside a test's).
    snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic(using=alias):
        if snapshot:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        if progress is not None:  # counted in the same snapshot as the rows that follow
            progress.total = sum(context_rows(plan, m, alias).count() for m in plan.all_models)
        for model in plan.all_models:
            rows = database_rows(plan, model, alias)
            manifest.models[model._meta.label_lower] = _digest(written(rows))
    out.write(canonical({"manifest": manifest.as_json()}) + "\n")
    return manifest


# --- Reading a file --------------------------------------------------------------------------
def read_header(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as lines:
        header: dict[str, Any] = json.loads(lines.readline() or "{}")
    if header.get("format") != FORMAT:
        raise DataMoveError(f"{path} is not a {FORMAT} file")
    return header


def file_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Every row of the file, then the manifest line; the header is skipped."""
    with path.open(encoding="utf-8") as lines:
        next(lines, None)
        for number, line in enumerate(lines, start=2):
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataMoveError(f"{path}:{number}: not JSON ({exc})") from exc


def check_file(plan: Plan, path: Path) -> Manifest:
    """The manifest written in the file, after checking the file's rows still match it."""
    header = read_header(path)
    if header["context"] != plan.context:
        raise DataMoveError(f"{path} holds {header['context']!r}, not {plan.context!r}")
    found: dict[str, list[str]] = {m._meta.label_lower: [] for m in plan.all_models}
    written: Manifest | None = None
    for row in file_rows(path):
        if "manifest" in row:
            written = Manifest.from_json(row["manifest"])
            break
        if row.get("model") not in found:
            raise DataMoveError(f"{path} holds rows of {row.get('model')!r}, not in the plan")
        found[row["model"]].append(canonical(row))
    if written is None:
        raise DataMoveError(f"{path} has no manifest: the export did not finish or was cut")
    recomputed = Manifest({label: _digest(lines) for label, lines in found.items()})
    problems = written.differences(recomputed)
    if problems:
        raise DataMoveError(f"{path} does not match its own manifest: " + "; ".join(problems))
    return written
