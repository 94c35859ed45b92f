"""payments' API under /api/v1/payments: an intent for its owner (with the client secret the
provider's mobile SDK confirms with), the test-mode confirmation, and the provider's webhooks."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from apps.payments import selectors
from apps.payments.error_codes import (
    IntentNotFound,
    PaymentDeclined,
    ProviderUnavailable,
    TestModeOnly,
    UnexpectedState,
    WebhookSignatureInvalid,
)
from apps.payments.models import PaymentIntent
from apps.payments.services import gateway, intents, webhooks
from cleave.api import Id
from cleave.auth.ninja_auth import bearer, principal_of
from cleave.openapi.errors import raises

router = Router(auth=bearer, tags=["payments"])


class IntentOut(Schema):
    id: int
    reference: str
    amount: int = Field(description="In the currency's minor unit (cents).")
    currency: str
    status: str = Field(description="Stripe's PaymentIntent status.")
    amount_capturable: int
    amount_received: int
    amount_refunded: int
    client_secret: str = Field(description="For the provider's mobile SDK; keep it private.")
    publishable_key: str = Field(description="The provider key the SDK is set up with.")
    provider: str = Field(description="'stripe', or 'test' (no real money, test-confirm only).")
    last_error_code: str | None


class TestConfirmIn(Schema):
    payment_method: str = Field(
        default="pm_card_visa",
        max_length=200,
        description="A test method: pm_card_visa succeeds, pm_card_chargeDeclined declines.",
    )


class WebhookOut(Schema):
    received: bool
    result: str


def _out(intent: PaymentIntent) -> IntentOut:
    return IntentOut(
        id=intent.pk,
        reference=intent.reference,
        amount=intent.amount,
        currency=intent.currency,
        status=intent.status,
        amount_capturable=intent.amount_capturable,
        amount_received=intent.amount_received,
        amount_refunded=intent.amount_refunded,
        client_secret=intent.client_secret,
        publishable_key=gateway.publishable_key(),
        provider=intent.provider,
        last_error_code=intent.last_error_code or None,
    )


@router.get("/intents/{intent_id}", response=IntentOut)
@raises(IntentNotFound)
def intent_get(request: HttpRequest, intent_id: Id) -> IntentOut:
    """The caller's own intent (anyone else's is not found)."""
    user_id = principal_of(request).user_id
    return _out(selectors.intent_get(intent_id=intent_id, owner_user_id=user_id))


@router.post("/intents/{intent_id}/test-confirm", response=IntentOut)
@raises(IntentNotFound, TestModeOnly, PaymentDeclined, UnexpectedState, ProviderUnavailable)
def intent_test_confirm(request: HttpRequest, intent_id: Id, payload: TestConfirmIn) -> IntentOut:
    """Confirm the caller's intent with a test payment method, as the mobile SDK would: only
    with the test provider (embedded mode) or a Stripe test key; 403 otherwise."""
    user_id = principal_of(request).user_id
    # Someone else's intent is not found whatever the provider: its existence is not leaked.
    intent = selectors.intent_get(intent_id=intent_id, owner_user_id=user_id)
    if not gateway.test_confirm_allowed():
        raise TestModeOnly()
    key = (
        request.headers.get("Idempotency-Key")
        or f"test-confirm:{intent.provider_intent_id}:{payload.payment_method}"
    )
    return _out(
        intents.intent_confirm(
            intent_id=intent.pk, idempotency_key=key, payment_method=payload.payment_method
        )
    )


@router.post("/webhooks/stripe", auth=None, response=WebhookOut)
@raises(WebhookSignatureInvalid)
def stripe_webhook(request: HttpRequest) -> WebhookOut:
    """Stripe's events, verified by their `Stripe-Signature`; a duplicate answers 200 and
    changes nothing (Stripe stops resending once it gets a 2xx)."""
    result = webhooks.webhook_receive(
        payload=request.body, signature=request.headers.get("Stripe-Signature", "")
    )
    return WebhookOut(received=True, result=result)
