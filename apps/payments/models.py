"""payments' tables: intents (our mirror of the provider's, advanced monotonically), every call
made to the provider with its idempotency key, refunds, and every webhook event received."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils.timezone import now

from cleave.crypto import EncryptedTextField

# How far along an intent is. A state only moves to a higher rank (webhooks may come late,
# twice or out of order), except a decline, which sends an unauthorized intent back to
# requires_payment_method. succeeded and canceled are final.
STATUS_RANK = {
    "requires_payment_method": 0,
    "requires_confirmation": 1,
    "requires_action": 2,
    "processing": 3,
    "requires_capture": 4,
    "succeeded": 5,
    "canceled": 5,
}
FINAL = frozenset({"succeeded", "canceled"})


class PaymentIntent(models.Model):
    idempotency_key = models.CharField(max_length=200, unique=True)  # the caller's create key
    request_fingerprint = models.CharField(max_length=64)  # the create arguments' hash
    reference = models.CharField(max_length=200, db_index=True)  # "order:42": the caller's
    owner_user_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    description = models.CharField(max_length=500, blank=True)
    provider = models.CharField(max_length=16)
    provider_intent_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    # Lets its holder confirm the payment with the provider's SDK: a credential, encrypted.
    client_secret = EncryptedTextField(max_length=512, blank=True)
    status = models.CharField(max_length=32, default="requires_payment_method")
    amount_capturable = models.BigIntegerField(default=0)
    amount_received = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    last_error_code = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=now)
    updated_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="payments_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_received__lte=F("amount")), name="payments_received_le_amount"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__lte=F("amount_received")),
                name="payments_refunded_le_received",
            ),
        ]

    def __str__(self) -> str:
        return f"intent {self.pk} {self.reference} {self.status}"


class ProviderCall(models.Model):
    """One write asked of the provider under one idempotency key; its tries and outcome. The
    caller's retry with the same key finds it and replays its outcome instead of calling
    twice; a call without an outcome (the provider did not answer) is tried again, with the
    same provider key, so the provider replays instead of acting twice."""

    intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="calls")
    operation = models.CharField(max_length=16)  # create | confirm | capture | cancel | refund
    idempotency_key = models.CharField(max_length=255, unique=True)  # "<operation>:<caller key>"
    request_fingerprint = models.CharField(max_length=64)
    params = models.JSONField(default=dict)
    # "" while unanswered; ok | declined | invalid_state | invalid_amount | key_reused | error
    outcome = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    duration_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.operation} {self.idempotency_key} {self.outcome or 'pending'}"


class Refund(models.Model):
    intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="refunds")
    idempotency_key = models.CharField(max_length=255, unique=True)
    provider_refund_id = models.CharField(max_length=255, unique=True)
    amount = models.BigIntegerField()
    status = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"refund {self.provider_refund_id} {self.amount}"


class WebhookEvent(models.Model):
    """Every provider event received once (a duplicate finds its id here and changes nothing)."""

    provider_event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=64)
    intent = models.ForeignKey(
        PaymentIntent, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhooks"
    )
    provider_created = models.BigIntegerField()  # the provider's clock (seconds)
    # applied (changed our intent) | stale (older than what we know) | unmatched | ignored
    result = models.CharField(max_length=16)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=now)

    def __str__(self) -> str:
        return f"{self.event_type} {self.provider_event_id} {self.result}"
