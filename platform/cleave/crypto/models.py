"""The kernel crypto's one table: per-subject data keys, for crypto-shredding."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from cleave.crypto.fields import EncryptedTextField


class SubjectKey(models.Model):
    """A subject's (`user:<uuid>`) AES-256 data key, wrapped by the keyring's current key.

    Forgetting the subject empties `data_key` and stamps `forgotten_at`: what was encrypted
    with it can no longer be read, and the row stays as a tombstone so that nothing new is
    ever encrypted for that subject again. This table is mutable on purpose: it is the one
    way out of the append-only event log for personal data.
    """

    subject = models.CharField(max_length=200, unique=True)
    # base64url of the 32-byte key; the field encrypts it with the keyring (and
    # `encryption_keys rotate` re-wraps it like every other encrypted column).
    data_key = EncryptedTextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    forgotten_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "cleave"
        db_table = "cleave_subject_key"
        verbose_name = "subject data key"

    def __str__(self) -> str:
        return f"{self.subject}{' (forgotten)' if self.forgotten_at else ''}"
