"""Key rotation: `encryption_keys status | rotate | generate` and the batches underneath."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cleave.crypto.keys import parse_keyring
from cleave.crypto.rotation import EncryptedColumn, RotationResult, encrypted_columns, rotate_column
from cleave.tests.test_crypto_models import (
    CryptoSample,
    key,
    sample_table,  # noqa: F401 - fixture
    store_raw,
    stored,
    use_keys,
)

pytestmark = pytest.mark.usefixtures("sample_table")
NEW_THEN_OLD = f"k2:{key(2)},k1:{key(1)}"


def command(*args: str) -> str:
    out = StringIO()
    call_command("encryption_keys", *args, "--model", "cleave.CryptoSample", stdout=out)
    return out.getvalue()


def _samples(count: int) -> list[CryptoSample]:
    return [CryptoSample.objects.create(secret=f"token-{n}") for n in range(count)]


def _column() -> EncryptedColumn:
    [column] = encrypted_columns([CryptoSample])
    return column


def test_status_counts_rows_per_key_id(settings: Any) -> None:
    _samples(3)
    CryptoSample.objects.create(secret="")
    use_keys(settings, NEW_THEN_OLD)
    CryptoSample.objects.create(secret="new one")
    assert "cleave.CryptoSample.secret [default]: k2*=1, k1=3, empty=1" in command("status")


def test_rotate_reencrypts_old_values_in_batches_and_is_idempotent(settings: Any) -> None:
    rows = _samples(5)
    hashes = [row.secret_hash for row in rows]
    use_keys(settings, NEW_THEN_OLD)

    first = command("rotate", "--batch-size", "2")

    assert "re-encrypted 5 row(s) in 3 batch(es) with k2; 0 row(s) left" in first
    assert all(str(stored(row.pk)).startswith("enc:v1:k2:") for row in rows)
    reloaded = CryptoSample.objects.order_by("pk")
    assert [r.secret for r in reloaded] == [f"token-{n}" for n in range(5)]
    assert [r.secret_hash for r in reloaded] == hashes  # lookups unaffected by the rotation
    before = [stored(row.pk) for row in rows]
    assert "re-encrypted 0 row(s) in 0 batch(es)" in command("rotate")
    assert [stored(row.pk) for row in rows] == before
    assert "k2*=5, k1=0" in command("status")


def test_interrupted_rotation_keeps_its_finished_batches_and_resumes(settings: Any) -> None:
    rows = _samples(5)
    use_keys(settings, NEW_THEN_OLD)

    def stop_after_first_batch(result: RotationResult) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rotate_column(_column(), batch_size=2, on_batch=stop_after_first_batch)
    assert [str(stored(row.pk))[:10] for row in rows] == ["enc:v1:k2:"] * 2 + ["enc:v1:k1:"] * 3

    assert rotate_column(_column(), batch_size=2).rotated == 3


def test_rotation_leaves_undecryptable_values_and_says_which(settings: Any) -> None:
    good, bad = _samples(2)
    store_raw(bad.pk, str(stored(bad.pk))[:-4] + "AAAA")
    use_keys(settings, NEW_THEN_OLD)
    with pytest.raises(CommandError, match=rf"cleave.CryptoSample.secret pk \[{bad.pk}\]"):
        command("rotate")
    assert str(stored(good.pk)).startswith("enc:v1:k2:")
    assert str(stored(bad.pk)).startswith("enc:v1:k1:")


def test_values_of_an_unknown_key_show_as_unreadable(settings: Any) -> None:
    _samples(1)
    use_keys(settings, f"k3:{key(3)}")
    assert "k3*=0, empty=0, UNREADABLE=1" in command("status")


def test_generate_prints_a_key_the_keyring_accepts() -> None:
    out = StringIO()
    call_command("encryption_keys", "generate", "--kid", "k2027", stdout=out, stderr=StringIO())
    line = out.getvalue().strip()
    assert line.startswith("k2027:")
    ring = parse_keyring(encryption_keys=line, hash_key=key(9), secret_key="s", allow_derived=False)
    assert len(ring.keys["k2027"]) == 32


def test_generate_hash_key_prints_a_bare_key() -> None:
    out = StringIO()
    call_command("encryption_keys", "generate", "--hash-key", stdout=out)
    ring = parse_keyring(
        encryption_keys=f"k1:{key(1)}",
        hash_key=out.getvalue().strip(),
        secret_key="s",
        allow_derived=False,
    )
    assert len(ring.hash_key) == 32


def test_rotate_shows_its_progress_as_plain_lines_off_a_terminal(settings: Any) -> None:
    _samples(5)
    use_keys(settings, NEW_THEN_OLD)
    progress = StringIO()
    call_command(
        "encryption_keys", "rotate", "--batch-size", "2", "--model", "cleave.CryptoSample",
        stdout=StringIO(), stderr=progress,
    )  # fmt: skip
    last = progress.getvalue().splitlines()[-1]
    assert last.startswith("rotate cleave.CryptoSample.secret: 5/5 rows (100%), ")
    assert "\r" not in progress.getvalue()
