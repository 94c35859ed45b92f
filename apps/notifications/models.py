"""notifications' own read models (devices, time zones) and what it sends."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.timezone import now

from cleave.crypto import EncryptedTextField


class Device(models.Model):
    """identity's devices as this context learned them from events (never read from identity)."""

    user_id = models.BigIntegerField()
    device_id = models.CharField(max_length=128)
    platform = models.CharField(max_length=16)
    push_token = EncryptedTextField(max_length=512, blank=True)  # a credential: encrypted at rest
    token_valid = models.BooleanField(default=True, help_text="False once a provider refused it.")
    updated_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user_id", "device_id"], name="notifications_device_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform} device {self.device_id} of user {self.user_id}"


class Preferences(models.Model):
    user_id = models.BigIntegerField(unique=True)
    timezone = models.CharField(max_length=64, default="UTC")  # from identity.user_updated
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"preferences of user {self.user_id}"


class Mute(models.Model):
    user_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user_id", "conversation_id"], name="notifications_mute_once"
            ),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} mutes {self.conversation_id}"


class InboxItem(models.Model):
    user_id = models.BigIntegerField()
    kind = models.CharField(max_length=32)
    title = models.CharField(max_length=120)
    body = models.CharField(max_length=280)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=now)
    read_at = models.DateTimeField(null=True, blank=True)
    # Created or read: delta sync (GET /api/v1/notifications/sync) reads it.
    changed_at = models.DateTimeField(default=now)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user_id", "-created_at", "-id"], name="notifications_inbox"),
            models.Index(fields=["user_id", "changed_at"], name="notifications_inbox_sync"),
            models.Index(
                fields=["user_id"],
                name="notifications_unread",
                condition=models.Q(read_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for user {self.user_id}"


class Burst(models.Model):
    """One push per conversation per window: later messages in the window are only counted."""

    user_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()
    window_started_at = models.DateTimeField()
    pending = models.PositiveIntegerField(default=0, help_text="Messages since the last push.")

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user_id", "conversation_id"], name="notifications_burst_once"
            ),
        ]

    def __str__(self) -> str:
        return f"burst of {self.conversation_id} for {self.user_id}"


class DeliveryAttempt(models.Model):
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="attempts")
    provider = models.CharField(max_length=16)
    title = models.CharField(max_length=120)
    body = models.CharField(max_length=280)
    ok = models.BooleanField()
    status = models.PositiveIntegerField(null=True, blank=True)
    response = models.TextField(blank=True)
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"{self.provider} → {self.device_id}: {'ok' if self.ok else 'failed'}"
