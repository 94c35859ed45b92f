"""A model with an encrypted, searchable column for the crypto tests (no tests here).

Registered in the kernel's app but without a migration: `sample_table` creates its table for
the tests that use it and drops it afterwards.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from django.db import connection, models

from cleave.crypto import EncryptedTextField, KeyedHashField


class CryptoSample(models.Model):
    secret = EncryptedTextField(blank=True, null=True)
    secret_hash = KeyedHashField(source="secret", unique=True)
    note = models.CharField(max_length=20, blank=True)
    # Declared: a model of a test module is not in the app registry mypy's plugin reads.
    objects: models.Manager[CryptoSample] = models.Manager()

    class Meta:
        app_label = "cleave"
        constraints: ClassVar[list[models.BaseConstraint]] = []

    def __str__(self) -> str:
        return f"sample {self.pk}"


def key(byte: int) -> str:
    return base64.urlsafe_b64encode(bytes([byte]) * 32).decode()


def use_keys(settings: Any, encryption_keys: str) -> None:
    settings.CLEAVE_ENCRYPTION_KEYS = encryption_keys
    settings.CLEAVE_HASH_KEY = key(9)


def stored(pk: int) -> str | None:
    """The column as the database holds it: a raw cursor, no field conversion."""
    table = connection.ops.quote_name(CryptoSample._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {table} WHERE id = %s", [pk])  # noqa: S608 - our name
        row = cursor.fetchone()
    return row[0]


def store_raw(pk: int, value: str) -> None:
    table = connection.ops.quote_name(CryptoSample._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET secret = %s WHERE id = %s", [value, pk])  # noqa: S608


@pytest.fixture
def sample_table(transactional_db: None, settings: Any) -> Iterator[type[CryptoSample]]:
    use_keys(settings, f"k1:{key(1)}")
    with connection.schema_editor() as editor:
        editor.create_model(CryptoSample)
    yield CryptoSample
    with connection.schema_editor() as editor:
        editor.delete_model(CryptoSample)
