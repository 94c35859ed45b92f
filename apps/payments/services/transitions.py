"""The one place an intent's state advances, whoever reports it (our call's answer, a webhook
late, twice or out of order): monotonic by `STATUS_RANK`, each transition published once."""

from __future__ import annotations

from typing import Any

from django.utils.timezone import now

from apps.payments.gateways.stripe_gateway import IntentSnapshot, RefundSnapshot
from apps.payments.models import FINAL, STATUS_RANK, PaymentIntent, Refund
from cleave.databases import database_for
from cleave.events import publish
from contracts.payments import (
    PaymentAuthorized,
    PaymentCancelled,
    PaymentCaptured,
    PaymentFailed,
    PaymentRefunded,
)
from contracts.payments import (
    PaymentIntent as IntentOut,
)


def advance(intent: PaymentIntent, snapshot: IntentSnapshot, *, cancel_reason: str = "") -> bool:
    """Move `intent` (row-locked, in the caller's transaction) to what the provider reports,
    if that is further along; publish each transition's event. True if anything changed."""
    current, new = intent.status, snapshot.status
    if current in FINAL or STATUS_RANK.get(new, -1) <= STATUS_RANK[current]:
        return False
    intent.status = new
    intent.amount_capturable = snapshot.amount_capturable
    intent.amount_received = max(intent.amount_received, snapshot.amount_received)
    intent.last_error_code = ""
    fields = ["status", "amount_capturable", "amount_received", "last_error_code", "updated_at"]
    if snapshot.client_secret and not intent.client_secret:
        intent.client_secret = snapshot.client_secret
        fields.append("client_secret")
    intent.updated_at = now()
    intent.save(update_fields=fields)
    passed_authorization = STATUS_RANK[current] < STATUS_RANK["requires_capture"]
    if new in {"requires_capture", "succeeded"} and passed_authorization:
        # A capture seen before its authorization (out of order) still tells the caller both.
        publish(
            PaymentAuthorized(
                **_facts(intent), amount_capturable=snapshot.amount_capturable or intent.amount
            )
        )
    if new == "succeeded":
        publish(PaymentCaptured(**_facts(intent), amount_received=intent.amount_received))
    if new == "canceled":
        publish(PaymentCancelled(**_facts(intent), reason=cancel_reason or "canceled"))
    return True


def decline(intent: PaymentIntent, *, decline_code: str) -> bool:
    """A declined attempt (row-locked intent, caller's transaction): an intent not yet
    authorized goes back to requires_payment_method; PaymentFailed is published. The caller
    makes sure one attempt is reported once."""
    if STATUS_RANK[intent.status] >= STATUS_RANK["requires_capture"]:
        return False  # a stale failure of an earlier attempt: the payment went through since
    intent.status = "requires_payment_method"
    intent.last_error_code = decline_code[:64]
    intent.updated_at = now()
    intent.save(update_fields=["status", "last_error_code", "updated_at"])
    publish(PaymentFailed(**_facts(intent), error_code="card_declined", decline_code=decline_code))
    return True


# The key a refund learned from a webhook is filed under, until our own call claims it.
WEBHOOK_KEY = "webhook:"


def refund_record(intent: PaymentIntent, refund: RefundSnapshot, *, idempotency_key: str) -> bool:
    """Record a refund the provider made (intent row-locked, in the caller's transaction) and
    publish PaymentRefunded, once per provider refund id."""
    refunds = Refund.objects.using(database_for("payments"))
    known = refunds.filter(provider_refund_id=refund.provider_refund_id).first()
    if known is not None:
        if known.idempotency_key.startswith(WEBHOOK_KEY) and not idempotency_key.startswith(
            WEBHOOK_KEY
        ):
            # Its webhook came before our own call's answer: the refund is ours, under our key.
            known.idempotency_key = idempotency_key
            known.save(update_fields=["idempotency_key"])
        return False
    row = refunds.create(
        intent=intent,
        idempotency_key=idempotency_key,
        provider_refund_id=refund.provider_refund_id,
        amount=refund.amount,
        status=refund.status,
    )
    intent.amount_refunded = min(intent.amount_refunded + refund.amount, intent.amount_received)
    intent.updated_at = now()
    intent.save(update_fields=["amount_refunded", "updated_at"])
    publish(
        PaymentRefunded(
            aggregate_id=str(intent.pk),
            intent_id=intent.pk,
            reference=intent.reference,
            amount=intent.amount,
            currency=intent.currency,
            refund_id=row.pk,
            refund_amount=refund.amount,
            amount_refunded=intent.amount_refunded,
        )
    )
    return True


def _facts(intent: PaymentIntent) -> dict[str, Any]:
    return {
        "aggregate_id": str(intent.pk),
        "intent_id": intent.pk,
        "reference": intent.reference,
        "amount": intent.amount,
        "currency": intent.currency,
    }


def intent_out(intent: PaymentIntent) -> IntentOut:
    """The contract's view of an intent (no model instance leaves the context)."""
    return IntentOut(
        intent_id=intent.pk,
        reference=intent.reference,
        owner_user_id=intent.owner_user_id,
        amount=intent.amount,
        currency=intent.currency,
        status=intent.status,  # type: ignore[arg-type]  # only the provider's statuses are stored
        amount_capturable=intent.amount_capturable,
        amount_received=intent.amount_received,
        amount_refunded=intent.amount_refunded,
        client_secret=intent.client_secret,
        provider=intent.provider,
        provider_intent_id=intent.provider_intent_id or "",
        last_error_code=intent.last_error_code or None,
    )
