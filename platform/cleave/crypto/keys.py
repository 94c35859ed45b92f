"""The keyring: AES-256-GCM keys by id and the keyed-hash key, read from the environment.

`CLEAVE_ENCRYPTION_KEYS` = `kid:base64key,kid:base64key,…` (32-byte keys): the first encrypts,
all of them decrypt. `CLEAVE_HASH_KEY` = base64 of at least 32 bytes: the HMAC-SHA256 key of
searchable fields. The hash key is separate on purpose: rotating the encryption key then
never changes a stored hash, so lookups and unique constraints keep working through a rotation.

Each is read from Django settings first, then from `os.environ`. When neither is set, embedded
mode derives deterministic development keys from SECRET_KEY with HKDF, so `make run` needs no
configuration; real mode refuses to run without them whatever DEBUG says (ImproperlyConfigured
here, and the `cleave.E010` system check at startup).
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

ENCRYPTION_KEYS_SETTING = "CLEAVE_ENCRYPTION_KEYS"
HASH_KEY_SETTING = "CLEAVE_HASH_KEY"
KEY_BYTES = 32  # AES-256
MIN_HASH_KEY_BYTES = 32
DERIVED_KID = "dev"
# Lower case only: SQLite's LIKE (used by `status` and `rotate` to match a key id prefix) is
# case-insensitive, so "K1" and "k1" would be counted as one key.
_KID = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")


class KeyConfigError(ImproperlyConfigured):
    """The keys are missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Keyring:
    """Encryption keys by id (the current one first) and the keyed-hash key."""

    current_kid: str
    keys: Mapping[str, bytes]
    hash_key: bytes
    derived: bool  # development keys from SECRET_KEY, never acceptable in production

    def key(self, kid: str) -> bytes | None:
        return self.keys.get(kid)


def generate_key() -> str:
    """A new random 32-byte key, base64url without padding (for either variable)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).rstrip(b"=").decode()


def parse_keyring(
    *, encryption_keys: str | None, hash_key: str | None, secret_key: str, allow_derived: bool
) -> Keyring:
    """Build a keyring from the variables' text; derive what is unset if `allow_derived`."""
    derived = not encryption_keys or not hash_key
    if derived and not allow_derived:
        missing = " and ".join(
            name
            for name, value in (
                (ENCRYPTION_KEYS_SETTING, encryption_keys),
                (HASH_KEY_SETTING, hash_key),
            )
            if not value
        )
        raise KeyConfigError(
            f"Real mode needs {missing} (DEBUG or not): encryption at rest refuses development "
            "keys derived from SECRET_KEY. Make keys with `manage.py encryption_keys generate` "
            f"and set {ENCRYPTION_KEYS_SETTING}=<kid>:<key>[,<old kid>:<old key>…] and "
            f"{HASH_KEY_SETTING}=<key> (see docs/security-encryption.md)."
        )
    keys = (
        _parse_encryption_keys(encryption_keys)
        if encryption_keys
        else {DERIVED_KID: _derive(secret_key, b"cleave.crypto.encryption.v1")}
    )
    hashing = (
        _parse_hash_key(hash_key) if hash_key else _derive(secret_key, b"cleave.crypto.hash.v1")
    )
    if hashing in keys.values():
        raise KeyConfigError(
            f"{HASH_KEY_SETTING} must not be one of the encryption keys: one key, one purpose."
        )
    return Keyring(current_kid=next(iter(keys)), keys=keys, hash_key=hashing, derived=derived)


def _parse_encryption_keys(text: str) -> dict[str, bytes]:
    keys: dict[str, bytes] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        kid, sep, encoded = item.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise KeyConfigError(
                f"{ENCRYPTION_KEYS_SETTING}: each entry is <kid>:<base64 key>, the kid 1-32 of "
                f"a-z 0-9 _ - (got an entry starting {kid[:8]!r})."
            )
        if kid in keys:
            raise KeyConfigError(f"{ENCRYPTION_KEYS_SETTING}: key id {kid!r} appears twice.")
        key = _decode(encoded, ENCRYPTION_KEYS_SETTING, kid)
        if len(key) != KEY_BYTES:
            raise KeyConfigError(
                f"{ENCRYPTION_KEYS_SETTING}: key {kid!r} has {len(key)} bytes; AES-256 needs "
                f"exactly {KEY_BYTES}."
            )
        keys[kid] = key
    if not keys:
        raise KeyConfigError(f"{ENCRYPTION_KEYS_SETTING} is set but lists no key.")
    return keys


def _parse_hash_key(text: str) -> bytes:
    key = _decode(text.strip(), HASH_KEY_SETTING, None)
    if len(key) < MIN_HASH_KEY_BYTES:
        raise KeyConfigError(
            f"{HASH_KEY_SETTING} has {len(key)} bytes; it needs at least {MIN_HASH_KEY_BYTES}."
        )
    return key


def _decode(text: str, name: str, kid: str | None) -> bytes:
    # Standard and URL-safe base64 alike, padding optional: keys are pasted from many tools.
    normalized = text.replace("-", "+").replace("_", "/").rstrip("=")
    try:
        return base64.b64decode(normalized + "=" * (-len(normalized) % 4), validate=True)
    except (binascii.Error, ValueError):
        where = f" (key {kid!r})" if kid else ""
        raise KeyConfigError(f"{name}{where} is not valid base64.") from None


def _derive(secret_key: str, info: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=b"cleave.crypto", info=info)
    return hkdf.derive(secret_key.encode())


def _setting(name: str) -> str | None:
    value: Any = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name)
    if isinstance(value, list | tuple):
        value = ",".join(value)
    return str(value) if value else None


def derived_keys_allowed() -> bool:
    """Development keys are fine in embedded mode, never in real mode: DEBUG=true there once
    meant keys derived from the public embedded SECRET_KEY."""
    return getattr(settings, "CLEAVE_MODE", "embedded") != "real"


def load_keyring() -> Keyring:
    """The keyring from settings and the environment, parsed now (the system check uses it)."""
    return parse_keyring(
        encryption_keys=_setting(ENCRYPTION_KEYS_SETTING),
        hash_key=_setting(HASH_KEY_SETTING),
        secret_key=settings.SECRET_KEY,
        allow_derived=derived_keys_allowed(),
    )


@functools.cache
def keyring() -> Keyring:
    """The process's keyring, parsed once; raises KeyConfigError when it cannot be built."""
    return load_keyring()


def forget_keyring() -> None:
    """Parse the keys again on next use (tests, and `override_settings`)."""
    keyring.cache_clear()


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in {ENCRYPTION_KEYS_SETTING, HASH_KEY_SETTING, "SECRET_KEY", "DEBUG", "CLEAVE_MODE"}:
        forget_keyring()


setting_changed.connect(_on_setting_changed, dispatch_uid="cleave.crypto.keys")
