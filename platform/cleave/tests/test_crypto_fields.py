"""EncryptedTextField and KeyedHashField against a real table: what the column holds."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from django.apps.registry import Apps
from django.core.exceptions import FieldError
from django.db import IntegrityError, connection, models, transaction

from cleave.crypto import DecryptionError, searchable_hash
from cleave.crypto.migration_ops import encrypt_existing
from cleave.tests.test_crypto_models import (
    CryptoSample,
    sample_table,  # noqa: F401 - fixture
    store_raw,
    stored,
)


@pytest.mark.usefixtures("sample_table")
def test_the_column_never_holds_the_plaintext_and_loading_decrypts() -> None:
    row = CryptoSample.objects.create(secret="apns-0123456789abcdef")
    raw = stored(row.pk)
    assert str(raw).startswith("enc:v1:k1:")
    assert "apns-0123456789abcdef" not in str(raw)
    assert CryptoSample.objects.get(pk=row.pk).secret == "apns-0123456789abcdef"
    assert CryptoSample.objects.values_list("secret", flat=True).get() == "apns-0123456789abcdef"


@pytest.mark.usefixtures("sample_table")
def test_empty_and_null_are_stored_as_they_are_and_can_be_filtered() -> None:
    empty = CryptoSample.objects.create(secret="", note="empty")
    null = CryptoSample.objects.create(secret=None, note="null")
    CryptoSample.objects.create(secret="set", note="set")
    assert (stored(empty.pk), stored(null.pk)) == ("", None)
    assert [s.note for s in CryptoSample.objects.exclude(secret="").exclude(secret=None)] == ["set"]
    assert CryptoSample.objects.get(secret__isnull=True).note == "null"
    assert (empty.secret_hash, null.secret_hash) == (None, None)


@pytest.mark.usefixtures("sample_table")
def test_searchable_lookup_finds_the_row_through_its_keyed_hash() -> None:
    CryptoSample.objects.create(secret="token-a", note="a")
    CryptoSample.objects.create(secret="token-b", note="b")
    found = CryptoSample.objects.get(secret_hash=searchable_hash(CryptoSample, "secret", "token-b"))
    assert found.note == "b"
    assert not CryptoSample.objects.filter(
        secret_hash=searchable_hash(CryptoSample, "secret", "token-c")
    ).exists()


@pytest.mark.usefixtures("sample_table")
def test_uniqueness_holds_on_the_hash() -> None:
    CryptoSample.objects.create(secret="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        CryptoSample.objects.create(secret="same")


@pytest.mark.usefixtures("sample_table")
def test_the_hash_follows_the_value_on_update() -> None:
    row = CryptoSample.objects.create(secret="old")
    row.secret = "new"
    row.save(update_fields=["secret", "secret_hash"])
    assert CryptoSample.objects.get(secret_hash=searchable_hash(CryptoSample, "secret", "new"))
    with pytest.raises(ValueError, match="'secret_hash'"):
        row.save(update_fields=["secret"])  # would leave the hash stale: refused


@pytest.mark.usefixtures("sample_table")
def test_comparing_by_value_is_refused_rather_than_matching_nothing() -> None:
    CryptoSample.objects.create(secret="token-a")
    with pytest.raises(TypeError, match="KeyedHashField"):
        CryptoSample.objects.filter(secret="token-a").exists()
    with pytest.raises(FieldError, match="Unsupported lookup"):
        CryptoSample.objects.filter(secret__icontains="token").exists()


@pytest.mark.usefixtures("sample_table")
def test_a_tampered_column_refuses_to_load() -> None:
    row = CryptoSample.objects.create(secret="token-a")
    raw = stored(row.pk)
    assert raw is not None
    store_raw(row.pk, raw[:-3] + ("AAA" if not raw.endswith("AAA") else "BBB"))
    with pytest.raises(DecryptionError):
        CryptoSample.objects.get(pk=row.pk)


class _PlainSample(models.Model):
    """The same table as a migration sees it before the field becomes encrypted."""

    secret = models.TextField(blank=True, null=True)  # noqa: DJ001 - mirrors CryptoSample
    secret_hash = models.CharField(max_length=64, null=True)  # noqa: DJ001 - NULL when empty
    note = models.CharField(max_length=20, blank=True)
    objects: models.Manager[_PlainSample] = models.Manager()  # outside the app registry

    class Meta:
        apps = Apps()
        app_label = "cleave"
        db_table = CryptoSample._meta.db_table


@pytest.mark.usefixtures("sample_table")
def test_data_migration_encrypts_existing_rows_idempotently_and_reverses(settings: Any) -> None:
    plain = [_PlainSample.objects.create(secret=value) for value in ("tok-1", "tok-2", "", None)]
    operation = encrypt_existing("cleave", "CryptoSample", "secret", hash_field="secret_hash")
    # What RunPython hands its function: the historical apps and the schema editor.
    historical: Any = SimpleNamespace(get_model=lambda app_label, name: _PlainSample)
    editor: Any = SimpleNamespace(connection=connection)

    operation.code(historical, editor)
    once = [stored(row.pk) for row in plain]
    operation.code(historical, editor)  # again: nothing changes
    assert [stored(row.pk) for row in plain] == once
    assert str(once[0]).startswith("enc:v1:k1:")
    assert once[2:] == ["", None]
    assert [row.secret for row in CryptoSample.objects.order_by("pk")] == [
        "tok-1",
        "tok-2",
        "",
        None,
    ]
    assert (
        CryptoSample.objects.get(secret_hash=searchable_hash(CryptoSample, "secret", "tok-2")).pk
        == plain[1].pk
    )

    assert operation.reverse_code is not None
    operation.reverse_code(historical, editor)
    assert [stored(row.pk) for row in plain] == ["tok-1", "tok-2", "", None]
