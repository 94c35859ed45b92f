"""Per-subject data keys: encrypt a subject's personal data with a key of its own, and shred
that key to make every copy of the data unreadable at once (crypto-shredding).

Used by the event store (`cleave.eventstore`) for payloads and snapshots, whose rows are
immutable: deleting the key is how a deleted user's history stops being readable. A sealed
value is `s1:<base64url(nonce ‖ ciphertext ‖ tag)>`; the associated data binds it to where it
is stored (stream, version, type), so a ciphertext copied elsewhere fails to open.

A key read in a transaction is kept for the rest of it (`_KeysRead`): an aggregate's load and
its append, each asking for the same subject's key, ask the database once. A key shredded by
another transaction after we read it is used until our commit, which the forgetting waits for
anyway when it takes a lock the writer holds (tracking's consent row); what is written with it
is as unreadable as the rest once the shredding commits.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Collection

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from cleave.crypto.cipher import NONCE_BYTES, DecryptionError
from cleave.crypto.keys import KEY_BYTES
from cleave.crypto.models import SubjectKey

SEALED_PREFIX = "s1:"


class SubjectForgotten(Exception):
    """The subject's data key was shredded: its data is gone for good."""

    def __init__(self, subject: str) -> None:
        super().__init__(f"subject {subject!r} was forgotten; its data cannot be read")
        self.subject = subject


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class _KeysRead:
    """Keys read in the open transaction, parked among its on-commit callbacks as a no-op: Django
    drops it at commit, at rollback, and at the rollback of a savepoint it was registered in, so
    a key made in a savepoint that rolled back (its row gone) is never used again."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self.keys = keys

    def __call__(self) -> None:
        """Nothing to do at commit: being dropped then is the point."""


def _keys_read(connection: BaseDatabaseWrapper) -> list[_KeysRead]:
    if not connection.in_atomic_block:
        return []
    return [pending[1] for pending in connection.run_on_commit if isinstance(pending[1], _KeysRead)]


def subject_keys(
    subjects: Collection[str], *, using: str, create: bool = False
) -> dict[str, bytes | None]:
    """Each subject's data key (None once forgotten, or when it has none and not `create`).

    With `create`, missing keys are made (a concurrent creator of the same subject wins and
    both use its key: insert-or-ignore, then read back). In a transaction, a key read once is
    not read again (the module's note).
    """
    wanted = set(subjects)
    if not wanted:
        return {}
    connection = connections[using]
    known: dict[str, bytes | None] = {}
    for read in _keys_read(connection):
        known.update({subject: key for subject, key in read.keys.items() if subject in wanted})
    missing = wanted - known.keys()
    if missing:
        fetched = _fetch(missing, using=using, create=create)
        found = {subject: key for subject, key in fetched.items() if key is not None}
        if found and connection.in_atomic_block:
            connection.on_commit(_KeysRead(found))
        known.update(fetched)
    return {subject: known.get(subject) for subject in wanted}


def _fetch(wanted: set[str], *, using: str, create: bool) -> dict[str, bytes | None]:
    rows = SubjectKey.objects.using(using)
    found = {row.subject: row for row in rows.filter(subject__in=wanted)}
    missing = wanted - found.keys()
    if missing and create:
        rows.bulk_create(
            [
                SubjectKey(subject=subject, data_key=_encode(os.urandom(KEY_BYTES)))
                for subject in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        found.update({row.subject: row for row in rows.filter(subject__in=missing)})
    return {
        subject: (
            _decode(found[subject].data_key or "")
            if subject in found and found[subject].data_key
            else None
        )
        for subject in wanted
    }


def subject_forget(subject: str, *, using: str) -> bool:
    """Shred `subject`'s data key (leaving a tombstone); True if there was a key to shred.
    Idempotent. Rows that still reference the subject become unreadable, not deleted."""
    for read in _keys_read(connections[using]):
        read.keys.pop(subject, None)  # this transaction stops using it at once
    rows = SubjectKey.objects.using(using)
    changed = rows.filter(subject=subject, data_key__isnull=False).update(
        data_key=None, forgotten_at=timezone.now()
    )
    if not changed:
        # A subject never seen here gets its tombstone too, so nothing is encrypted for it later.
        rows.bulk_create(
            [SubjectKey(subject=subject, data_key=None, forgotten_at=timezone.now())],
            ignore_conflicts=True,
        )
    return bool(changed)


def seal(key: bytes, plaintext: bytes, *, bound_to: str) -> str:
    nonce = os.urandom(NONCE_BYTES)
    return SEALED_PREFIX + _encode(nonce + AESGCM(key).encrypt(nonce, plaintext, bound_to.encode()))


def unseal(key: bytes, sealed: str, *, bound_to: str) -> bytes:
    if not sealed.startswith(SEALED_PREFIX):
        raise DecryptionError(f"{bound_to}: not a sealed value")
    try:
        blob = _decode(sealed[len(SEALED_PREFIX) :])
        return AESGCM(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.encode())
    except (binascii.Error, ValueError, InvalidTag):
        raise DecryptionError(f"{bound_to}: sealed value failed to open") from None
