"""A fake payments context for ticketing's own tests: it implements `contracts.payments`'
Protocol in memory, applies each write once per idempotency key, and counts captures and
refunds per key, so a test can prove "never two captures, never a refund without a capture".
The real context (and the provider's fake server) is exercised in tests/e2e."""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from contracts.payments import (
    IntentCancel,
    IntentCapture,
    IntentConfirm,
    IntentCreate,
    IntentFind,
    IntentGet,
    IntentNotFound,
    PaymentDeclined,
    PaymentIntent,
    PaymentIntentFound,
    ProviderUnavailable,
    Refund,
    RefundCreate,
    UnexpectedState,
)

DECLINED_METHOD = "pm_card_chargeDeclined"


@dataclass
class FakePayments:
    intents: dict[int, dict[str, Any]] = field(default_factory=dict)
    by_key: dict[str, int] = field(default_factory=dict)
    answers: dict[str, Any] = field(default_factory=dict)  # "<call>:<key>" → first answer
    captures: Counter[str] = field(default_factory=Counter)
    refunds: Counter[str] = field(default_factory=Counter)
    cancels: Counter[str] = field(default_factory=Counter)
    down: bool = False
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # --- the test's hands -------------------------------------------------------------------
    def authorize(self, intent_id: int) -> None:
        """What the buyer's SDK does: the card is good, money held."""
        self.intents[intent_id]["status"] = "requires_capture"

    def intent_for(self, reference: str) -> dict[str, Any]:
        (found,) = [i for i in self.intents.values() if i["reference"] == reference]
        return found

    def kept(self, intent_id: int) -> int:
        """Money the buyer is out of pocket for this intent now."""
        intent = self.intents[intent_id]
        held = intent["amount"] if intent["status"] == "requires_capture" else 0
        return held + intent["amount_received"] - intent["amount_refunded"]

    # --- PaymentsService ----------------------------------------------------------------------
    def intent_create(self, command: IntentCreate) -> PaymentIntent:
        def create() -> PaymentIntent:
            if command.confirm and command.payment_method == DECLINED_METHOD:
                raise PaymentDeclined(details={"decline_code": "generic_decline"})
            intent_id = next(self._ids)
            self.intents[intent_id] = {
                "intent_id": intent_id,
                "reference": command.reference,
                "owner_user_id": command.owner_user_id,
                "amount": command.amount,
                "currency": command.currency,
                "status": "requires_capture" if command.confirm else "requires_payment_method",
                "amount_received": 0,
                "amount_refunded": 0,
            }
            self.by_key[command.idempotency_key] = intent_id
            return self._out(intent_id)

        return self._once("create", command.idempotency_key, create)

    def intent_confirm(self, command: IntentConfirm) -> PaymentIntent:
        raise NotImplementedError("ticketing never confirms: the buyer's app does")

    def intent_capture(self, command: IntentCapture) -> PaymentIntent:
        def capture() -> PaymentIntent:
            intent = self._intent(command.intent_id)
            if intent["status"] != "requires_capture":
                raise UnexpectedState(details={"status": intent["status"], "operation": "captured"})
            intent.update(status="succeeded", amount_received=intent["amount"])
            self.captures[command.idempotency_key] += 1
            return self._out(command.intent_id)

        return self._once("capture", command.idempotency_key, capture)

    def intent_cancel(self, command: IntentCancel) -> PaymentIntent:
        def cancel() -> PaymentIntent:
            intent = self._intent(command.intent_id)
            if intent["status"] == "succeeded":
                raise UnexpectedState(details={"status": "succeeded", "operation": "canceled"})
            intent["status"] = "canceled"
            self.cancels[command.idempotency_key] += 1
            return self._out(command.intent_id)

        return self._once("cancel", command.idempotency_key, cancel)

    def refund_create(self, command: RefundCreate) -> Refund:
        def refund() -> Refund:
            intent = self._intent(command.intent_id)
            if intent["status"] != "succeeded":
                raise UnexpectedState(details={"status": intent["status"], "operation": "refunded"})
            amount = intent["amount_received"] - intent["amount_refunded"]
            intent["amount_refunded"] += amount
            self.refunds[command.idempotency_key] += 1
            out = self._out(command.intent_id)
            return Refund(
                refund_id=1, intent_id=command.intent_id, amount=amount, status="succeeded",
                intent=out,
            )  # fmt: skip

        return self._once("refund", command.idempotency_key, refund)

    def intent_get(self, query: IntentGet) -> PaymentIntent:
        self._intent(query.intent_id)
        return self._out(query.intent_id)

    def intent_find(self, query: IntentFind) -> PaymentIntentFound:
        intent_id = self.by_key.get(query.idempotency_key)
        return PaymentIntentFound(intent=None if intent_id is None else self._out(intent_id))

    # --- plumbing -----------------------------------------------------------------------------
    def _once(self, call: str, key: str, effect: Any) -> Any:
        if self.down:
            raise ProviderUnavailable()
        if f"{call}:{key}" not in self.answers:
            try:
                self.answers[f"{call}:{key}"] = effect()
            except PaymentDeclined as declined:
                self.answers[f"{call}:{key}"] = declined
        answer = self.answers[f"{call}:{key}"]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _intent(self, intent_id: int) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise IntentNotFound(details={"intent_id": intent_id})
        return self.intents[intent_id]

    def _out(self, intent_id: int) -> PaymentIntent:
        intent = self.intents[intent_id]
        return PaymentIntent(
            intent_id=intent_id,
            reference=intent["reference"],
            owner_user_id=intent["owner_user_id"],
            amount=intent["amount"],
            currency=intent["currency"],
            status=intent["status"],
            amount_capturable=intent["amount"] if intent["status"] == "requires_capture" else 0,
            amount_received=intent["amount_received"],
            amount_refunded=intent["amount_refunded"],
            client_secret=f"pi_{intent_id}_secret_fake",
            provider="fake",
            provider_intent_id=f"pi_{intent_id}",
            last_error_code=None,
        )
