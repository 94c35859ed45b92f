"""What the provider tells us: signed webhook events, each applied at most once (deduplicated
by event id) and only forwards (`transitions`), so duplicated, late and out-of-order deliveries
change nothing twice."""

from __future__ import annotations

from typing import Any

import stripe
from django.db import IntegrityError, transaction

from apps.payments import selectors
from apps.payments.error_codes import WebhookSignatureInvalid
from apps.payments.gateways.stripe_gateway import IntentSnapshot, RefundSnapshot
from apps.payments.models import PaymentIntent, WebhookEvent
from apps.payments.services import gateway, transitions
from cleave.databases import database_for

DB = "payments"


def webhook_receive(*, payload: bytes, signature: str) -> str:
    """Verify and apply one delivery; the result recorded for it (`applied`, `stale`,
    `unmatched`, `ignored`, or `duplicate` for an event id seen before)."""
    try:
        event = gateway.current().webhook_event(payload=payload, signature=signature)
    except stripe.SignatureVerificationError as error:
        raise WebhookSignatureInvalid(details={"reason": str(error)}) from error
    except (ValueError, UnicodeDecodeError) as error:
        raise WebhookSignatureInvalid(details={"reason": "the body is not JSON"}) from error
    return webhook_apply(event)


def webhook_apply(event: dict[str, Any]) -> str:
    obj: dict[str, Any] = event.get("data", {}).get("object", {})
    kind = str(event.get("type", ""))
    provider_intent_id = (
        obj.get("payment_intent") if obj.get("object") == "charge" else obj.get("id")
    )
    try:
        with transaction.atomic(using=database_for(DB)):
            record = WebhookEvent.objects.using(database_for(DB)).create(
                provider_event_id=str(event["id"]),
                event_type=kind[:64],
                provider_created=int(event.get("created") or 0),
                result="ignored",
                payload=event,
            )
            intent = _intent_of(event, str(provider_intent_id or ""))
            if intent is not None and provider_intent_id and not intent.provider_intent_id:
                # Matched by the create's key before its answer was recorded: record the id now.
                intent.provider_intent_id = str(provider_intent_id)
                intent.client_secret = str(obj.get("client_secret") or "")
                intent.save(update_fields=["provider_intent_id", "client_secret"])
            record.intent = intent
            record.result = "unmatched" if intent is None else _apply(intent, kind, obj, event)
            record.save(update_fields=["intent", "result"])
            return record.result
    except IntegrityError:
        return "duplicate"  # this event id was received before: nothing changes twice


def _intent_of(event: dict[str, Any], provider_intent_id: str) -> PaymentIntent | None:
    intent = selectors.intent_by_provider_id(provider_intent_id=provider_intent_id, lock=True)
    if intent is not None:
        return intent
    # An event of a create whose answer we have not recorded yet: the request's key names it.
    key = str((event.get("request") or {}).get("idempotency_key") or "")
    operation, _, caller_key = key.partition(":")
    if operation != "create" or not caller_key:
        return None
    found = selectors.intent_by_key(idempotency_key=caller_key)
    return None if found is None else selectors.intent_lock(intent_id=found.pk)


def _apply(intent: PaymentIntent, kind: str, obj: dict[str, Any], event: dict[str, Any]) -> str:
    if kind == "charge.refunded":
        changed = False
        for refund in (obj.get("refunds") or {}).get("data", []):
            made = RefundSnapshot(
                provider_refund_id=str(refund["id"]),
                provider_intent_id=str(obj.get("payment_intent")),
                amount=int(refund["amount"]),
                status=str(refund.get("status", "succeeded")),
            )
            changed |= transitions.refund_record(
                intent, made, idempotency_key=f"{transitions.WEBHOOK_KEY}{refund['id']}"
            )
        return "applied" if changed else "stale"
    if not kind.startswith("payment_intent."):
        return "ignored"
    snapshot = IntentSnapshot.of(obj)
    if kind == "payment_intent.payment_failed":
        # A decline of our own call is reported by that call (now, or by its retry after a
        # crash, which the provider answers with the same decline): once is enough.
        key = str((event.get("request") or {}).get("idempotency_key") or "")
        if key and selectors.call_by_key(idempotency_key=key) is not None:
            return "stale"
        return (
            "applied"
            if transitions.decline(intent, decline_code=snapshot.decline_code)
            else "stale"
        )
    reason = str(obj.get("cancellation_reason") or "")
    return "applied" if transitions.advance(intent, snapshot, cancel_reason=reason) else "stale"


def deliver_inprocess_webhooks() -> None:
    """The test provider's webhooks, through the same verification as the provider's own
    (the real provider POSTs them to the webhook endpoint instead)."""
    for payload, signature in gateway.current().pending_webhooks():
        webhook_receive(payload=payload, signature=signature)
