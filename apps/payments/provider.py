"""payments' implementation of `contracts.payments.PaymentsService`."""

from __future__ import annotations

from apps.payments import selectors
from apps.payments.services import intents
from apps.payments.services.transitions import intent_out
from contracts.payments import (
    IntentCancel,
    IntentCapture,
    IntentConfirm,
    IntentCreate,
    IntentFind,
    IntentGet,
    PaymentIntent,
    PaymentIntentFound,
    Refund,
    RefundCreate,
)


class PaymentsProvider:
    def intent_create(self, command: IntentCreate) -> PaymentIntent:
        intent = intents.intent_create(
            amount=command.amount,
            currency=command.currency,
            reference=command.reference,
            idempotency_key=command.idempotency_key,
            owner_user_id=command.owner_user_id,
            payment_method=command.payment_method,
            confirm=command.confirm,
            description=command.description,
        )
        return intent_out(intent)

    def intent_confirm(self, command: IntentConfirm) -> PaymentIntent:
        return intent_out(
            intents.intent_confirm(
                intent_id=command.intent_id,
                idempotency_key=command.idempotency_key,
                payment_method=command.payment_method,
            )
        )

    def intent_capture(self, command: IntentCapture) -> PaymentIntent:
        return intent_out(
            intents.intent_capture(
                intent_id=command.intent_id,
                idempotency_key=command.idempotency_key,
                amount=command.amount,
            )
        )

    def intent_cancel(self, command: IntentCancel) -> PaymentIntent:
        return intent_out(
            intents.intent_cancel(
                intent_id=command.intent_id,
                idempotency_key=command.idempotency_key,
                reason=command.reason,
            )
        )

    def refund_create(self, command: RefundCreate) -> Refund:
        refund = intents.refund_create(
            intent_id=command.intent_id,
            idempotency_key=command.idempotency_key,
            amount=command.amount,
            reason=command.reason,
        )
        intent = selectors.intent_get(intent_id=refund.intent_id)
        return Refund(
            refund_id=refund.pk,
            intent_id=intent.pk,
            amount=refund.amount,
            status=refund.status,
            intent=intent_out(intent),
        )

    def intent_get(self, query: IntentGet) -> PaymentIntent:
        return intent_out(selectors.intent_get(intent_id=query.intent_id))

    def intent_find(self, query: IntentFind) -> PaymentIntentFound:
        intent = selectors.intent_by_key(idempotency_key=query.idempotency_key)
        return PaymentIntentFound(intent=None if intent is None else intent_out(intent))
