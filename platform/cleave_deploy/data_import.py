"""Import a context's data file into a database, and verify a database against one: the
other half of cleave_deploy.data (which plans the move, writes the file and reads it back).

The import runs in one transaction and proves itself before commit: counts and checksums are
recomputed from the target database and any difference rolls everything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.apps import apps
from django.core import serializers
from django.core.management.color import no_style
from django.core.serializers.base import DeserializationError
from django.db import DatabaseError, connections, transaction
from django.db.models import Model

from cleave.eventstore.models import StoredEvent
from cleave.progress import Progress
from cleave_deploy.data import (
    CHUNK,
    DataMoveError,
    Manifest,
    Plan,
    check_file,
    context_rows,
    database_manifest,
    file_rows,
)
from cleave_deploy.data_events import (
    SHARED,
    delete_context_events,
    shared_conflicts,
    to_positions,
)


def existing_rows(plan: Plan, alias: str) -> dict[str, int]:
    """The context's rows `alias` already has (label → count, non-zero only); companions are
    merged by natural key, so theirs do not count (migrations may have created them)."""
    owned = _owned(plan)
    counts = {m._meta.label_lower: context_rows(plan, m, alias).count() for m in owned}
    return {label: count for label, count in counts.items() if count}


def import_file(
    plan: Plan,
    path: Path,
    *,
    alias: str,
    replace: bool = False,
    progress: Progress | None = None,
) -> Manifest:
    """Load the file into `alias` in one transaction and prove it: counts and checksums are
    recomputed from the database before commit, and any difference rolls everything back."""
    expected = check_file(plan, path)
    if progress is not None:
        progress.total = sum(digest.rows for digest in expected.models.values())
    _require_tables(plan, alias)
    with transaction.atomic(using=alias):
        present = existing_rows(plan, alias)
        if present and not replace:
            raise DataMoveError(
                f"database {alias!r} already holds {plan.context} rows {present}; "
                "pass --replace to delete them first"
            )
        if present:
            for model in reversed(_owned(plan)):
                if model is StoredEvent:  # append-only: only maintenance may delete
                    delete_context_events(plan.context, alias)
                    continue
                context_rows(plan, model, alias).prefetch_related(None).order_by().delete()
        deferred = []
        companions = {model._meta.label_lower for model in plan.companions}
        try:
            for batch in _batches(file_rows(path)):
                merge = batch[0]["model"] in companions
                deferred += _insert(_event_store_rows(plan, batch, alias), alias, merge=merge)
                if progress is not None:
                    progress.advance(len(batch))
            for item in deferred:
                item.save_deferred_fields(using=alias)
        except (DeserializationError, DatabaseError) as exc:
            # E.g. a permission of a context this database does not host: no natural key match.
            raise DataMoveError(f"import into {alias!r} failed and was rolled back: {exc}") from exc
        _reset_sequences(plan, alias)
        found = database_manifest(plan, alias)
        problems = expected.differences(found)
        if problems:
            raise DataMoveError(
                f"database {alias!r} does not match the file after import (rolled back): "
                + "; ".join(problems)
            )
    return found


def verify(plan: Plan, path: Path, *, alias: str) -> Manifest:
    """The file is intact and database `alias` holds exactly its rows; DataMoveError if not."""
    expected = check_file(plan, path)
    found = database_manifest(plan, alias)
    problems = expected.differences(found)
    if problems:
        raise DataMoveError(f"database {alias!r} differs from {path}: " + "; ".join(problems))
    return found


def _owned(plan: Plan) -> tuple[type[Model], ...]:
    """The models whose rows are the context's alone (not the shared subject keys)."""
    return tuple(m for m in (*plan.models, *plan.kernel) if m not in SHARED)


def _event_store_rows(plan: Plan, batch: list[dict[str, Any]], alias: str) -> list[dict[str, Any]]:
    """A batch as it goes into `alias`: checkpoints' ordinals become the target's positions;
    subject keys the target already holds (the same key) are left out, a different one fails."""
    model = apps.get_model(batch[0]["model"])
    if model in SHARED:
        problems, present = shared_conflicts(batch, alias=alias)
        if problems:
            raise DataMoveError(
                f"database {alias!r} holds other data keys for {problems[:5]} "
                f"({len(problems)} subjects): the moved events could not be read there"
            )
        return [row for row in batch if row["fields"]["subject"] not in present]
    try:
        to_positions(model, batch, context=plan.context, alias=alias)
    except ValueError as exc:
        raise DataMoveError(f"{model._meta.label_lower}: {exc}") from exc
    return batch


def _batches(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """Runs of rows of one model, at most CHUNK long, stopping at the manifest."""
    batch: list[dict[str, Any]] = []
    for row in rows:
        if "manifest" in row:
            break
        if batch and (len(batch) >= CHUNK or batch[0]["model"] != row["model"]):
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


def _insert(batch: list[dict[str, Any]], alias: str, *, merge: bool) -> list[Any]:
    """Insert rows as they are (raw: no auto_now, ids kept) and their many-to-many links;
    with `merge`, a row whose natural key exists updates it and its links are replaced.

    Links are written straight into the through table with `alias`, not with the related
    manager, whose database would come from the router rather than the target.
    """
    deferred = []
    objects = serializers.deserialize("python", batch, using=alias, handle_forward_references=True)
    for item in objects:
        item.object.save_base(using=alias, raw=True, force_insert=not merge)
        for name, targets in (item.m2m_data or {}).items():
            m2m: Any = item.object._meta.get_field(name)  # a ManyToManyField (m2m_data's)
            through = m2m.remote_field.through
            source = through._meta.get_field(m2m.m2m_field_name()).attname
            target = through._meta.get_field(m2m.m2m_reverse_field_name()).attname
            links = through._base_manager.using(alias)
            if merge:
                links.filter(**{source: item.object.pk}).delete()
            links.bulk_create(
                through(**{source: item.object.pk, target: value}) for value in targets
            )
        if item.deferred_fields:
            deferred.append(item)
    return deferred


def _require_tables(plan: Plan, alias: str) -> None:
    existing = set(connections[alias].introspection.table_names())
    missing = [table for table in plan.tables() if table not in existing]
    missing += [m._meta.db_table for m in plan.kernel if m._meta.db_table not in existing]
    if missing:
        raise DataMoveError(
            f"database {alias!r} lacks tables {missing}: run `manage.py migrate --database "
            f"{alias}` in the target service's environment first"
        )


def _reset_sequences(plan: Plan, alias: str) -> None:
    """Ids were inserted explicitly: move PostgreSQL's sequences past them (no-op on SQLite)."""
    connection = connections[alias]
    statements = connection.ops.sequence_reset_sql(no_style(), list(plan.all_models))
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
