"""The event bus's tables: outbox (publisher side), inbox and failed deliveries (subscriber side).

Rows hold the event's JSON envelope, never a pickled object, so moving or renaming code never
breaks a replay.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    """An event written in its publisher's transaction, waiting for (or past) hand-off."""

    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    context = models.CharField(max_length=64, help_text="The publishing context.")
    aggregate_id = models.CharField(max_length=200)
    aggregate_seq = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text="Position in its (event type, aggregate) stream: 1, 2, 3 … with no gaps.",
    )
    envelope = models.JSONField()
    headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "cleave"
        verbose_name = "outbox event"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["id"],
                name="cleave_outbox_pending",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["dispatched_at"], name="cleave_outbox_dispatched"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class AggregateSequence(models.Model):
    """The last sequence number given to an (event type, aggregate) stream at publish.

    Outbox ids cannot order a stream for its consumers: a rolled-back transaction leaves a gap
    that looks the same as an event still on its way. This counter, bumped in the publishing
    transaction (its row lock orders concurrent publishers of one aggregate), has no gaps.
    """

    event_type = models.CharField(max_length=200)
    aggregate_id = models.CharField(max_length=200)
    last_seq = models.PositiveBigIntegerField()

    class Meta:
        app_label = "cleave"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["event_type", "aggregate_id"], name="cleave_aggregate_sequence_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.aggregate_id} @{self.last_seq}"


class InboxPosition(models.Model):
    """A subscriber's high-water mark on one aggregate: the last sequence number it applied.

    An event further ahead is held until the ones before it are applied (or the hold times out);
    an event at or below the mark that the inbox does not know arrived after its successors and
    is parked. `applied_seq` is null until the stream's first event is applied.
    """

    subscriber = models.CharField(max_length=200)
    aggregate_id = models.CharField(max_length=200)
    applied_seq = models.PositiveBigIntegerField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cleave"
        verbose_name = "inbox position"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["subscriber", "aggregate_id"], name="cleave_inbox_position_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} {self.aggregate_id} @{self.applied_seq}"


class InboxEntry(models.Model):
    """Proof that `subscriber` applied `event_id`: a redelivery finds it and does nothing."""

    event_id = models.UUIDField()
    subscriber = models.CharField(max_length=200)
    event_type = models.CharField(max_length=200)
    processed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cleave"
        verbose_name = "inbox entry"
        verbose_name_plural = "inbox"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["subscriber", "event_id"], name="cleave_inbox_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["processed_at"], name="cleave_inbox_processed"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} ← {self.event_type} {self.event_id}"


class FailedDelivery(models.Model):
    """A delivery that did not succeed yet: retrying, held behind an earlier one, or dead."""

    class Status(models.TextChoices):
        RETRYING = "retrying", "retrying"
        HELD = "held", "held behind an earlier event of the same aggregate"
        DEAD = "dead", "dead letter"
        PARKED = "parked", "parked: arrived after later events of its aggregate were applied"

    subscriber = models.CharField(max_length=200)
    event_id = models.UUIDField()
    event_type = models.CharField(max_length=200)
    aggregate_id = models.CharField(max_length=200)
    aggregate_seq = models.PositiveBigIntegerField(null=True, blank=True)
    envelope = models.JSONField()
    headers = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    traceback = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "cleave"
        verbose_name = "failed delivery"
        verbose_name_plural = "failed deliveries and dead letters"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["subscriber", "event_id"], name="cleave_failed_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["subscriber", "aggregate_id", "id"], name="cleave_failed_stream"),
            models.Index(fields=["status", "next_attempt_at"], name="cleave_failed_due"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} ✗ {self.event_type} {self.event_id} ({self.status})"
