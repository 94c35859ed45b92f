"""Find every encrypted column, count values per key id, and re-encrypt old ones in batches.

Rotation is resumable and idempotent by construction: a batch selects only rows whose value
does not start with the current key's prefix, walking the primary key upwards, and commits
each batch on its own. Stop it anywhere and run it again; run it twice and the second run
finds nothing. On PostgreSQL each batch locks its rows (FOR UPDATE SKIP LOCKED): a row a
request is writing is skipped rather than overwritten, and left for the next run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connections, router, transaction
from django.db.models import Count, F, Model, Q, QuerySet, TextField
from django.db.models.functions import Cast

from cleave.crypto.cipher import DecryptionError, decrypt, key_prefix
from cleave.crypto.fields import EncryptedTextField
from cleave.crypto.keys import Keyring, keyring

RAW = "_cleave_raw"  # the annotation holding the column's stored text, not decrypted


@dataclass(frozen=True)
class EncryptedColumn:
    model: type[Model]
    field: EncryptedTextField

    @property
    def label(self) -> str:
        return f"{self.model._meta.label}.{self.field.name}"

    @property
    def database(self) -> str:
        return router.db_for_write(self.model)

    def raw(self) -> QuerySet[Model]:
        """The model's rows with the stored text as `RAW`: a cast skips the field's decryption."""
        return self.model._base_manager.using(self.database).annotate(
            **{RAW: Cast(F(self.field.name), output_field=TextField())}
        )


@dataclass
class KeyUsage:
    """How many rows of one column use each key id; `other`: not readable as ours."""

    by_kid: dict[str, int]
    empty: int
    other: int


@dataclass
class RotationResult:
    column: str
    rotated: int = 0
    failed: list[object] = field(default_factory=list)  # primary keys that did not decrypt
    batches: int = 0


def encrypted_columns(models: Iterable[type[Model]] | None = None) -> list[EncryptedColumn]:
    """Every EncryptedTextField of the given (default: installed) concrete, managed models."""
    found = []
    for model in apps.get_models() if models is None else models:
        meta = model._meta
        if meta.abstract or meta.proxy or not meta.managed:
            continue
        # local fields only: a multi-table child would otherwise repeat its parent's columns.
        for model_field in meta.local_concrete_fields:
            if isinstance(model_field, EncryptedTextField):
                found.append(EncryptedColumn(model, model_field))
    return sorted(found, key=lambda column: column.label)


def key_usage(column: EncryptedColumn, *, keys: Keyring | None = None) -> KeyUsage:
    """Count the rows per configured key id, in one scan of the table."""
    ring = keys or keyring()
    counts = {f"kid{index}": kid for index, kid in enumerate(ring.keys)}
    totals = column.raw().aggregate(
        total=Count("pk"),
        empty=Count("pk", filter=Q(**{f"{RAW}__isnull": True}) | Q(**{RAW: ""})),
        **{
            alias: Count("pk", filter=Q(**{f"{RAW}__startswith": key_prefix(kid)}))
            for alias, kid in counts.items()
        },
    )
    by_kid = {kid: totals[alias] for alias, kid in counts.items()}
    other = totals["total"] - totals["empty"] - sum(by_kid.values())
    return KeyUsage(by_kid=by_kid, empty=totals["empty"], other=other)


def rotate_column(
    column: EncryptedColumn,
    *,
    batch_size: int = 500,
    keys: Keyring | None = None,
    on_batch: Callable[[RotationResult], None] | None = None,
) -> RotationResult:
    """Re-encrypt with the current key every value that another key encrypted."""
    ring = keys or keyring()
    result = RotationResult(column.label)
    features = connections[column.database].features
    last_pk: object = None
    while True:
        with transaction.atomic(using=column.database):
            pending = (
                column.raw()
                .filter(**{f"{RAW}__isnull": False})
                .exclude(**{RAW: ""})
                .exclude(**{f"{RAW}__startswith": key_prefix(ring.current_kid)})
                .order_by("pk")
            )
            if last_pk is not None:
                pending = pending.filter(pk__gt=last_pk)
            if features.has_select_for_update_skip_locked:
                pending = pending.select_for_update(skip_locked=True)
            rows = list(pending.values_list("pk", RAW)[:batch_size])
            if not rows:
                return result
            last_pk = rows[-1][0]
            _reencrypt(column, rows, ring, result)
        result.batches += 1
        if on_batch is not None:
            on_batch(result)


def _reencrypt(
    column: EncryptedColumn, rows: list[tuple[object, str]], ring: Keyring, result: RotationResult
) -> None:
    purpose = column.field.purpose
    fresh = []
    for pk, stored in rows:
        try:
            plaintext = decrypt(stored, purpose=purpose, keys=ring)
        except DecryptionError:
            result.failed.append(pk)
            continue
        # The field encrypts on the way in (with the current key): hand it the plaintext.
        fresh.append(column.model(pk=pk, **{column.field.attname: plaintext}))
    if fresh:
        column.model._base_manager.using(column.database).bulk_update(fresh, [column.field.name])
    result.rotated += len(fresh)
