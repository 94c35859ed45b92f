"""Encryption at rest: AES-256-GCM fields, keyed hashes for lookups, keys from the environment.

See docs/security-encryption.md. Contexts declare `EncryptedTextField` (and, for exact
lookups or unique constraints, a `KeyedHashField` beside it); `manage.py encryption_keys`
reports key usage and re-encrypts after a rotation.
"""

from cleave.crypto.cipher import DecryptionError, decrypt, encrypt, keyed_hash, mask
from cleave.crypto.fields import EncryptedTextField, KeyedHashField, searchable_hash
from cleave.crypto.keys import KeyConfigError, generate_key, keyring

__all__ = [
    "DecryptionError",
    "EncryptedTextField",
    "KeyConfigError",
    "KeyedHashField",
    "decrypt",
    "encrypt",
    "generate_key",
    "keyed_hash",
    "keyring",
    "mask",
    "searchable_hash",
]
