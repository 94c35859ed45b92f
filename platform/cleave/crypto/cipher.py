"""AES-256-GCM encryption of text values, keyed hashes for lookups, and masking for display.

A stored value is `enc:v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>`: versioned, and it names
the key that encrypted it, so rotation finds old values with a prefix match and decryption
picks the right key. The associated data binds the header and the value's *purpose* (by
default `<app>.<model>.<field>`), so a ciphertext copied into another column, or given another
key id, fails authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cleave.crypto.keys import Keyring, keyring

VERSION = "v1"
PREFIX = f"enc:{VERSION}:"
NONCE_BYTES = 12  # GCM's standard nonce: random per value (2^32 values per key stay safe)


class DecryptionError(ValueError):
    """A stored value cannot be decrypted: tampered, truncated, or its key is not configured.

    The message names the purpose and key id, never the value.
    """


def key_prefix(kid: str) -> str:
    """What every value encrypted with `kid` starts with."""
    return f"{PREFIX}{kid}:"


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


def key_id(value: str) -> str | None:
    """The key id a stored value names, or None when it is not in this format."""
    if not is_encrypted(value):
        return None
    kid, sep, _ = value[len(PREFIX) :].partition(":")
    return kid if sep else None


def _aad(kid: str, purpose: str) -> bytes:
    return f"{key_prefix(kid)}{purpose}".encode()


def encrypt(plaintext: str, *, purpose: str, keys: Keyring | None = None) -> str:
    """Encrypt with the current key and a fresh random nonce (equal inputs differ)."""
    ring = keys or keyring()
    kid = ring.current_kid
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(ring.keys[kid]).encrypt(nonce, plaintext.encode(), _aad(kid, purpose))
    return key_prefix(kid) + base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode()


def decrypt(value: str, *, purpose: str, keys: Keyring | None = None) -> str:
    """Decrypt a value from `encrypt` with whichever configured key it names."""
    ring = keys or keyring()
    kid = key_id(value)
    if kid is None:
        raise DecryptionError(f"{purpose}: the stored value is not in the {PREFIX} format.")
    key = ring.key(kid)
    if key is None:
        raise DecryptionError(
            f"{purpose}: encrypted with key {kid!r}, which CLEAVE_ENCRYPTION_KEYS does not list."
        )
    encoded = value[len(key_prefix(kid)) :]
    try:
        blob = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        plain = AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(kid, purpose))
    except (binascii.Error, ValueError, InvalidTag):
        # One message for every failure: which of them it was is no one's business but ours.
        raise DecryptionError(
            f"{purpose}: value encrypted with {kid!r} failed to decrypt."
        ) from None
    return plain.decode()


def keyed_hash(value: str, *, purpose: str, keys: Keyring | None = None) -> str:
    """HMAC-SHA256 of `value` for exact lookups (hex). Per purpose, so columns don't correlate."""
    ring = keys or keyring()
    message = purpose.encode() + b"\x00" + value.encode()
    return hmac.new(ring.hash_key, message, hashlib.sha256).hexdigest()


def mask(value: str | None, *, visible: int = 4) -> str:
    """`…abcd`: enough to tell tokens apart in the admin or a log line, not enough to use one."""
    if not value:
        return ""
    if len(value) <= visible * 2:
        return "…"  # a short value would be mostly shown: show nothing of it
    return "…" + value[-visible:]
