"""The event store's tables: the append-only log, snapshots, and projections' checkpoints.

The log (`cleave_event`) is refused UPDATE and DELETE by the database itself (triggers added by
migration 0008, see `cleave.eventstore.immutability`). Snapshots and checkpoints are ordinary
mutable rows: a snapshot is a cache of a fold over the log (replacing it is its point), a
checkpoint is a projection's bookmark.

Every database alias holding a context gets these tables (the kernel migrates everywhere, see
`cleave.databases`): a stream lives in its context's alias, like that context's outbox.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class StoredEvent(models.Model):
    """One event of one stream. `id` is the global position read by subscriptions."""

    id = models.BigAutoField(primary_key=True)
    stream = models.CharField(max_length=200)
    stream_version = models.PositiveIntegerField()
    type = models.CharField(max_length=200)
    schema_version = models.PositiveSmallIntegerField(default=1)
    # JSON text, or when `subject` is set AES-GCM ciphertext under that subject's data key.
    payload = models.TextField()
    # NULL = no personal data (plain payload); "" would be a subject named nothing.
    subject = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    metadata = models.JSONField(default=dict)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cleave"
        db_table = "cleave_event"
        verbose_name = "stored event"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["stream", "stream_version"], name="cleave_event_stream_version"
            )
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["type", "id"], name="cleave_event_type"),
            models.Index(fields=["recorded_at"], name="cleave_event_recorded"),
            models.Index(fields=["subject"], name="cleave_event_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.stream}@{self.stream_version} {self.type}"

    @property
    def category(self) -> str:
        return category_of(self.stream)


def category_of(stream: str) -> str:
    """`tracking.trip-<uuid>` → `tracking.trip`: the text before the first "-"."""
    return stream.split("-", 1)[0]


class StoredSnapshot(models.Model):
    """The latest snapshot of a stream (one row per stream, replaced on save)."""

    stream = models.CharField(max_length=200, unique=True)
    stream_version = models.PositiveIntegerField()
    state = models.TextField()  # JSON text, or ciphertext under the subject's key
    subject = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001 - as above
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cleave"
        db_table = "cleave_event_snapshot"
        verbose_name = "event stream snapshot"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["subject"], name="cleave_snapshot_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.stream}@{self.stream_version}"


class ProjectionCheckpoint(models.Model):
    """How far a projection has applied the log, in the same transaction as its read models.

    A projection whose `apply` raised is parked at `parked_position` with the error; nothing
    after it is applied until an operator retries or skips it (each recorded in the audit).
    """

    name = models.CharField(max_length=200, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)
    parked_position = models.BigIntegerField(null=True, blank=True)
    parked_error = models.TextField(blank=True)
    parked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "cleave"
        db_table = "cleave_projection_checkpoint"
        verbose_name = "projection"

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


class ProjectionAudit(models.Model):
    """Who retried, skipped or rebuilt a projection, when, and at which position."""

    class Action(models.TextChoices):
        RETRY = "retry", "retry the parked event"
        SKIP = "skip", "skip the parked event"
        REBUILD = "rebuild", "rebuild from the start of the log"

    projection = models.CharField(max_length=200)
    action = models.CharField(max_length=16, choices=Action.choices)
    position = models.BigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    actor = models.CharField(max_length=200)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cleave"
        db_table = "cleave_projection_audit"
        verbose_name = "projection audit entry"
        verbose_name_plural = "projection audit"

    def __str__(self) -> str:
        return f"{self.projection} {self.action} @ {self.position} by {self.actor}"
