"""payments' admin: intents with their history (provider calls, refunds, webhooks received);
staff refund through the service (the same events and checks as any caller), audited."""

from __future__ import annotations

import uuid

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.payments.models import PaymentIntent, ProviderCall, Refund, WebhookEvent
from apps.payments.services import intents
from cleave.admin_readonly import ViewOnlyAdmin, ViewOnlyInline
from cleave.errors import CleaveError


class ProviderCallInline(ViewOnlyInline):
    model = ProviderCall
    fields = (
        "operation",
        "idempotency_key",
        "outcome",
        "error_code",
        "attempts",
        "duration_ms",
        "created_at",
        "finished_at",
    )
    readonly_fields = fields


class RefundInline(ViewOnlyInline):
    model = Refund
    fields = ("provider_refund_id", "amount", "status", "idempotency_key", "created_at")
    readonly_fields = fields


class WebhookInline(ViewOnlyInline):
    model = WebhookEvent
    fields = ("provider_event_id", "event_type", "result", "provider_created", "received_at")
    readonly_fields = fields


@admin.register(PaymentIntent)
class PaymentIntentAdmin(ViewOnlyAdmin):
    list_display = (
        "id",
        "reference",
        "owner_user_id",
        "amount",
        "currency",
        "status",
        "amount_received",
        "amount_refunded",
        "provider",
        "created_at",
    )
    list_filter = ("status", "provider", "currency")
    search_fields = ("reference", "provider_intent_id", "idempotency_key")
    exclude = ("client_secret",)  # a credential of the buyer's: never shown
    readonly_fields = (
        "idempotency_key",
        "reference",
        "owner_user_id",
        "amount",
        "currency",
        "description",
        "provider",
        "provider_intent_id",
        "status",
        "amount_capturable",
        "amount_received",
        "amount_refunded",
        "last_error_code",
        "created_at",
        "updated_at",
    )
    inlines = (ProviderCallInline, RefundInline, WebhookInline)
    actions = ("refund_in_full",)

    @admin.action(description="Refund selected payments in full (what is left of each)")
    def refund_in_full(self, request: HttpRequest, queryset: QuerySet[PaymentIntent]) -> None:
        done, failed = 0, []
        for intent in queryset.order_by("pk"):
            try:
                # A fresh key per staff action: clicking twice refunds what is left, not twice.
                intents.refund_create(intent_id=intent.pk, idempotency_key=f"admin:{uuid.uuid4()}")
            except CleaveError as error:
                failed.append(f"{intent.pk}: {error.message}")
                continue
            done += 1
            LogEntry.objects.log_actions(
                int(request.user.pk or 0),
                queryset.filter(pk=intent.pk),
                CHANGE,
                change_message="Refunded in full through the payments service.",
                single_object=True,
            )
        if done:
            self.message_user(request, f"{done} payment(s) refunded.", messages.SUCCESS)
        if failed:
            self.message_user(request, "Not refunded: " + "; ".join(failed), messages.ERROR)


@admin.register(WebhookEvent)
class WebhookEventAdmin(ViewOnlyAdmin):
    list_display = ("id", "provider_event_id", "event_type", "result", "intent", "received_at")
    list_filter = ("event_type", "result")
    search_fields = ("provider_event_id",)
    readonly_fields = (
        "provider_event_id",
        "event_type",
        "intent",
        "provider_created",
        "result",
        "payload",
        "received_at",
    )
