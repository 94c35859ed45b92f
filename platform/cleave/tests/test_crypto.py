"""Encryption at rest: the cipher, the keyed hash, and keys read from the environment."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from cleave.crypto import DecryptionError, decrypt, encrypt, keyed_hash, keyring, mask
from cleave.crypto.checks import check_encryption_keys
from cleave.crypto.keys import KeyConfigError, Keyring, generate_key, parse_keyring

SECRET = "x" * 60


def key(byte: int) -> str:
    return base64.urlsafe_b64encode(bytes([byte]) * 32).decode()


HASH_KEY = key(9)


def ring(keys: str, hash_key: str = HASH_KEY) -> Keyring:
    return parse_keyring(
        encryption_keys=keys, hash_key=hash_key, secret_key=SECRET, allow_derived=False
    )


K1 = ring(f"k1:{key(1)}")
K2_THEN_K1 = ring(f"k2:{key(2)},k1:{key(1)}")


def test_encrypt_then_decrypt_returns_the_plaintext() -> None:
    token = encrypt("fcm:ÄPA91b…token", purpose="app.device.push_token", keys=K1)
    assert decrypt(token, purpose="app.device.push_token", keys=K1) == "fcm:ÄPA91b…token"


def test_ciphertext_is_versioned_names_its_key_and_differs_every_time() -> None:
    first = encrypt("same", purpose="p", keys=K1)
    second = encrypt("same", purpose="p", keys=K1)
    assert first.startswith("enc:v1:k1:")
    assert first != second  # a fresh nonce each time: equal values don't show as equal
    assert "same" not in first


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # a flipped ciphertext byte
        lambda t: t[:-10],  # truncated
        lambda t: t.replace("enc:v1:k1:", "enc:v1:k2:"),  # claims another configured key
        lambda t: t.replace("enc:v1:", "enc:v2:"),  # another format version
        lambda t: t + "!!",  # not base64
    ],
)
def test_tampered_ciphertext_is_refused(tamper: Any) -> None:
    token = encrypt("secret value", purpose="p", keys=K1)
    with pytest.raises(DecryptionError) as refused:
        decrypt(tamper(token), purpose="p", keys=K2_THEN_K1)
    assert "secret value" not in str(refused.value)


def test_ciphertext_moved_to_another_column_is_refused() -> None:
    token = encrypt("secret value", purpose="identity.device.push_token", keys=K1)
    with pytest.raises(DecryptionError):
        decrypt(token, purpose="identity.signingkey.private_key_pem", keys=K1)


def test_old_key_still_decrypts_after_rotation_and_new_values_use_the_new_key() -> None:
    old = encrypt("before rotation", purpose="p", keys=K1)
    assert decrypt(old, purpose="p", keys=K2_THEN_K1) == "before rotation"
    assert encrypt("after", purpose="p", keys=K2_THEN_K1).startswith("enc:v1:k2:")


def test_value_of_a_removed_key_is_refused_naming_the_key() -> None:
    old = encrypt("gone", purpose="p", keys=K1)
    with pytest.raises(DecryptionError, match="'k1'"):
        decrypt(old, purpose="p", keys=ring(f"k2:{key(2)}"))


def test_keyed_hash_survives_encryption_key_rotation_but_not_another_purpose() -> None:
    assert keyed_hash("tok", purpose="p", keys=K1) == keyed_hash(
        "tok", purpose="p", keys=K2_THEN_K1
    )
    assert keyed_hash("tok", purpose="p", keys=K1) != keyed_hash("tok", purpose="q", keys=K1)
    other_hash_key = ring(f"k1:{key(1)}", hash_key=key(8))
    assert keyed_hash("tok", purpose="p", keys=K1) != keyed_hash(
        "tok", purpose="p", keys=other_hash_key
    )


@pytest.mark.parametrize(
    ("keys", "hash_key", "complaint"),
    [
        (f"k1:{base64.b64encode(b'short').decode()}", HASH_KEY, "exactly 32"),
        (f"K1:{key(1)}", HASH_KEY, "<kid>:<base64 key>"),
        (key(1), HASH_KEY, "<kid>:<base64 key>"),
        (f"k1:{key(1)},k1:{key(2)}", HASH_KEY, "twice"),
        (f"k1:{key(1)}", base64.b64encode(b"x" * 16).decode(), "at least 32"),
        (f"k1:{key(1)}", key(1), "must not be one of the encryption keys"),
        (f"k1:{'*' * 43}", HASH_KEY, "not valid base64"),
    ],
)
def test_malformed_keys_are_refused_with_the_reason(
    keys: str, hash_key: str, complaint: str
) -> None:
    with pytest.raises(KeyConfigError, match=complaint.replace("*", r"\*")):
        ring(keys, hash_key)


def test_generated_key_parses_and_standard_base64_is_accepted_too() -> None:
    generated = generate_key()
    standard = base64.b64encode(bytes(range(32))).decode()  # has "+" and "/" and padding
    parsed = ring(f"new:{generated},old:{standard}")
    assert list(parsed.keys) == ["new", "old"]
    assert parsed.keys["old"] == bytes(range(32))


@pytest.fixture
def unconfigured(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """No key in the settings nor in the environment (CI's real mode sets them)."""
    monkeypatch.delenv("CLEAVE_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("CLEAVE_HASH_KEY", raising=False)
    settings.CLEAVE_ENCRYPTION_KEYS = None
    settings.CLEAVE_HASH_KEY = None
    return settings


def test_real_mode_without_keys_refuses_to_encrypt_and_fails_the_system_check(
    unconfigured: Any,
) -> None:
    unconfigured.CLEAVE_MODE, unconfigured.DEBUG = "real", False
    with pytest.raises(ImproperlyConfigured, match="CLEAVE_ENCRYPTION_KEYS and CLEAVE_HASH_KEY"):
        encrypt("anything", purpose="p")
    [error] = check_encryption_keys()
    assert error.id == "cleave.E010"


def test_real_mode_with_only_encryption_keys_still_refuses(unconfigured: Any) -> None:
    unconfigured.CLEAVE_MODE, unconfigured.DEBUG = "real", False
    unconfigured.CLEAVE_ENCRYPTION_KEYS = f"k1:{key(1)}"
    with pytest.raises(KeyConfigError, match="needs CLEAVE_HASH_KEY"):
        keyring()


def test_embedded_mode_derives_stable_development_keys_from_secret_key(unconfigured: Any) -> None:
    unconfigured.CLEAVE_MODE, unconfigured.SECRET_KEY = "embedded", SECRET
    first = keyring()
    token = encrypt("dev", purpose="p")
    unconfigured.SECRET_KEY = SECRET + "!"
    assert keyring().keys != first.keys
    unconfigured.SECRET_KEY = SECRET  # the same secret after a restart: the same keys
    assert keyring() == first
    assert decrypt(token, purpose="p") == "dev"
    assert (first.derived, first.current_kid) == (True, "dev")
    assert check_encryption_keys() == []


def test_real_mode_refuses_development_keys_while_debugging_too(unconfigured: Any) -> None:
    # Issue 16: DEBUG=true used to run real mode on keys derived from the public embedded key.
    unconfigured.CLEAVE_MODE, unconfigured.DEBUG = "real", True
    with pytest.raises(KeyConfigError, match="needs CLEAVE_ENCRYPTION_KEYS and CLEAVE_HASH_KEY"):
        keyring()
    [error] = check_encryption_keys()
    assert error.id == "cleave.E010"


def test_a_malformed_variable_fails_the_check_even_in_embedded_mode(unconfigured: Any) -> None:
    unconfigured.CLEAVE_ENCRYPTION_KEYS = "no-colon-here"
    [error] = check_encryption_keys()
    assert error.id == "cleave.E010"


def test_real_mode_reads_keys_from_the_environment(unconfigured: Any, monkeypatch: Any) -> None:
    unconfigured.CLEAVE_MODE, unconfigured.DEBUG = "real", False
    monkeypatch.setenv("CLEAVE_ENCRYPTION_KEYS", f"k2:{key(2)}, k1:{key(1)}")
    monkeypatch.setenv("CLEAVE_HASH_KEY", HASH_KEY)
    from cleave.crypto.keys import forget_keyring

    forget_keyring()
    assert (keyring().current_kid, list(keyring().keys), keyring().derived) == (
        "k2",
        ["k2", "k1"],
        False,
    )
    assert check_encryption_keys() == []


@pytest.mark.parametrize(
    ("value", "shown"),
    [("fcm-token-abcdefghij-wxyz", "…wxyz"), ("short", "…"), ("", ""), (None, "")],
)
def test_mask_shows_only_the_tail(value: str | None, shown: str) -> None:
    assert mask(value) == shown
