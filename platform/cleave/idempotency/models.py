"""The stored answers of requests sent with an `Idempotency-Key`."""

from __future__ import annotations

from typing import ClassVar

from django.db import models


class IdempotentRequest(models.Model):
    """One (caller, key): the request's fingerprint and the answer it got, written in the same
    transaction as the request's own writes, so the two commit (or vanish) together."""

    scope = models.CharField(max_length=64, help_text="Whose key: user:<id>.")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status = models.PositiveSmallIntegerField()
    headers = models.JSONField(default=dict)
    body = models.BinaryField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()

    class Meta:
        app_label = "cleave"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["scope", "key"], name="cleave_idempotency_once")
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["expires_at"], name="cleave_idempotency_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"
