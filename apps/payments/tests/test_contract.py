"""payments' contract as another context sees it: called through the registry's client (in
process here, over HTTP in split mode), errors crossing by their code; its public surface."""

from __future__ import annotations

import pytest

import contracts.payments
from cleave.contracts.registry import client
from contracts.payments import (
    PAYMENTS,
    IntentCapture,
    IntentConfirm,
    IntentCreate,
    IntentGet,
    PaymentDeclined,
    PaymentsService,
    UnexpectedState,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_provider")]


def test_a_seller_authorizes_and_captures_through_the_contract_client() -> None:
    payments = client(PAYMENTS, PaymentsService)
    made = payments.intent_create(
        IntentCreate(amount=1800, currency="eur", reference="order:9", idempotency_key="s9:create")
    )
    with pytest.raises(UnexpectedState):
        payments.intent_capture(IntentCapture(intent_id=made.intent_id, idempotency_key="s9:early"))
    with pytest.raises(PaymentDeclined):
        payments.intent_confirm(
            IntentConfirm(
                intent_id=made.intent_id,
                idempotency_key="s9:confirm-1",
                payment_method="pm_card_chargeDeclinedInsufficientFunds",
            )
        )
    payments.intent_confirm(
        IntentConfirm(
            intent_id=made.intent_id, idempotency_key="s9:confirm-2", payment_method="pm_card_visa"
        )
    )
    payments.intent_capture(IntentCapture(intent_id=made.intent_id, idempotency_key="s9:capture"))
    seen = payments.intent_get(IntentGet(intent_id=made.intent_id))
    assert (seen.status, seen.amount_received, seen.reference) == ("succeeded", 1800, "order:9")


def test_the_public_surface_did_not_drift() -> None:
    assert contracts.payments.__all__ == sorted(contracts.payments.__all__)
    assert contracts.payments.__all__ == [
        "AmountInvalid",
        "CancellationReason",
        "IdempotencyKeyReused",
        "IntentCancel",
        "IntentCapture",
        "IntentConfirm",
        "IntentCreate",
        "IntentFind",
        "IntentGet",
        "IntentNotFound",
        "IntentStatus",
        "PAYMENTS",
        "PaymentAuthorized",
        "PaymentCancelled",
        "PaymentCaptured",
        "PaymentDeclined",
        "PaymentFailed",
        "PaymentIntent",
        "PaymentIntentFound",
        "PaymentRefunded",
        "PaymentsService",
        "ProviderUnavailable",
        "Refund",
        "RefundCreate",
        "RefundReason",
        "UnexpectedState",
    ]
