"""A simulator of Stripe's PaymentIntents API: the one state machine behind both the in-process
test provider (embedded mode) and the fake provider server (`apps.payments.testing.fake_stripe`).

It checks requests as Stripe does: the secret key in `Authorization: Bearer`, form-encoded
bodies (`metadata[reference]=…`), an `Idempotency-Key` reused with other parameters refused
(400 `idempotency_error`) and replayed with the same ones (the first answer, with
`Idempotent-Replayed: true`), amounts and currencies, and the status machine:

    requires_payment_method ─(payment_method)→ requires_confirmation ─confirm→ requires_capture
          ↑ declined (402 card_error)                                        │ capture
          └──────────────────────────────────────────                       succeeded ─refund(s)
    cancel: from any status before succeeded → canceled

Performed captures and refunds are counted per idempotency key (a replay is not performed), so
a test can prove "never two captures, never a refund without a capture". Each change queues a
webhook event (`payment_intent.amount_capturable_updated`, `.succeeded`, `.canceled`,
`.payment_failed`, `charge.refunded`) for the transport to deliver. Pure Python, thread-safe.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import Counter
from typing import Any

from apps.payments.gateways.wire import Answer, Faults, Refusal, form_params, integer, invalid

API_VERSION = "2026-10-28"
# Test payment methods (Stripe's names): these decline on confirmation, the rest succeed.
DECLINING_METHODS = {
    "pm_card_chargeDeclined": "generic_decline",
    "pm_card_visa_chargeDeclined": "generic_decline",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "insufficient_funds",
}
# Stripe's minimum charge amounts (a subset): anything under is `amount_too_small`.
MINIMUM_AMOUNT = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50}
MAXIMUM_AMOUNT = 99_999_999
CANCELLABLE = {
    "requires_payment_method",
    "requires_confirmation",
    "requires_action",
    "requires_capture",
    "processing",
}
CONFIRMABLE = {"requires_payment_method", "requires_confirmation", "requires_action"}


class StripeSimulator:
    def __init__(self, *, secret_key: str, clock: Any = time.time) -> None:
        self.secret_key = secret_key
        self.clock = clock
        self.faults = Faults()
        self._lock = threading.RLock()
        self.intents: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self._refunded: Counter[str] = Counter()
        self._idempotent: dict[str, tuple[str, Answer]] = {}
        self.performed: dict[str, Counter[str]] = {"capture": Counter(), "refund": Counter()}
        self._events: list[dict[str, Any]] = []

    # --- the request path -------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Answer:
        """One API request as Stripe would answer it (headers' names in lower case)."""
        with self._lock:
            try:
                self._authenticate(headers)
                params = form_params(body) if method == "POST" else {}
                if (
                    method == "POST"
                    and body
                    and "form-urlencoded" not in headers.get("content-type", "")
                ):
                    raise invalid("Content-Type must be application/x-www-form-urlencoded.")
            except Refusal as refusal:
                return refusal.answer
            key = headers.get("idempotency-key") if method == "POST" else None
            if key is None:
                return self._route(method, path, params, key)
            fingerprint = hashlib.sha256(
                f"{method} {path} {sorted(params.items())}".encode()
            ).hexdigest()
            stored = self._idempotent.get(key)
            if stored is not None:
                if stored[0] != fingerprint:
                    return Answer(
                        400,
                        {
                            "error": {
                                "type": "idempotency_error",
                                "message": "Keys for idempotent requests can only be used with "
                                "the same parameters they were first used with. Try using a "
                                f"key other than '{key}' if you meant to execute a different "
                                "request.",
                            }
                        },
                    )
                first = stored[1]
                return Answer(
                    first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"}
                )
            answer = self._route(method, path, params, key)
            if answer.status < 500:  # Stripe stores every answer but a server error
                self._idempotent[key] = (fingerprint, answer)
            return answer

    def drain_events(self) -> list[dict[str, Any]]:
        """The webhook events queued since the last call, oldest first."""
        with self._lock:
            events, self._events = self._events, []
            return events

    def counts(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {name: dict(counter) for name, counter in self.performed.items()}

    def _authenticate(self, headers: dict[str, str]) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token, self.secret_key):
            raise Refusal(
                401,
                {
                    "type": "invalid_request_error",
                    "message": "Invalid API Key provided.",
                },
            )

    def _route(self, method: str, path: str, params: dict[str, str], key: str | None) -> Answer:
        parts = [part for part in path.split("?")[0].split("/") if part]
        try:
            if parts[:2] != ["v1", "payment_intents"] and parts[:2] != ["v1", "refunds"]:
                raise Refusal(
                    404, {"type": "invalid_request_error", "message": "Unrecognized request URL."}
                )
            if parts == ["v1", "payment_intents"] and method == "POST":
                return Answer(200, self._create(params, key))
            if parts == ["v1", "refunds"] and method == "POST":
                return Answer(200, self._refund(params, key))
            if len(parts) == 3 and parts[1] == "payment_intents" and method == "GET":
                return Answer(200, dict(self._intent(parts[2])))
            if len(parts) == 4 and parts[1] == "payment_intents" and method == "POST":
                action = {
                    "confirm": self._confirm,
                    "capture": self._capture,
                    "cancel": self._cancel,
                }
                if parts[3] in action:
                    return Answer(200, action[parts[3]](self._intent(parts[2]), params, key))
            raise Refusal(
                404, {"type": "invalid_request_error", "message": "Unrecognized request URL."}
            )
        except Refusal as refusal:
            return refusal.answer

    # --- PaymentIntents ---------------------------------------------------------------------

    def _intent(self, intent_id: str) -> dict[str, Any]:
        intent = self.intents.get(intent_id)
        if intent is None:
            raise Refusal(
                404,
                {
                    "type": "invalid_request_error",
                    "code": "resource_missing",
                    "param": "intent",
                    "message": f"No such payment_intent: '{intent_id}'",
                },
            )
        return intent

    def _create(self, params: dict[str, str], key: str | None) -> dict[str, Any]:
        amount = integer(params, "amount", required=True) or 0  # required: missing is refused
        currency = params.get("currency", "")
        if currency not in MINIMUM_AMOUNT:
            raise invalid(
                f"Invalid currency: {currency}.", code="parameter_invalid", param="currency"
            )
        if amount < MINIMUM_AMOUNT[currency]:
            raise invalid(
                "Amount must be at least the minimum charge amount.",
                code="amount_too_small",
                param="amount",
            )
        if amount > MAXIMUM_AMOUNT:
            raise invalid(
                "Amount must be no more than 999,999.99.", code="amount_too_large", param="amount"
            )
        capture_method = params.get("capture_method", "automatic")
        if capture_method not in {"automatic", "automatic_async", "manual"}:
            raise invalid(f"Invalid capture_method: {capture_method}", param="capture_method")
        intent_id = f"pi_{secrets.token_hex(12)}"
        intent: dict[str, Any] = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": amount,
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": currency,
            "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{secrets.token_urlsafe(18)}",
            "created": int(self.clock()),
            "description": params.get("description") or None,
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": {k[9:-1]: v for k, v in params.items() if k.startswith("metadata[")},
            "payment_method": params.get("payment_method") or None,
            "status": "requires_confirmation"
            if params.get("payment_method")
            else "requires_payment_method",
            "canceled_at": None,
            "cancellation_reason": None,
        }
        self.intents[intent_id] = intent
        if params.get("confirm") == "true":
            return self._confirm(intent, {}, key)
        return dict(intent)

    def _unexpected(self, intent: dict[str, Any], action: str) -> Refusal:
        return Refusal(
            400,
            {
                "type": "invalid_request_error",
                "code": "payment_intent_unexpected_state",
                "message": f"This PaymentIntent's {action} could not be performed because it has a "
                f"status of {intent['status']}.",
                "payment_intent": dict(intent),
            },
        )

    def _confirm(
        self, intent: dict[str, Any], params: dict[str, str], key: str | None
    ) -> dict[str, Any]:
        if intent["status"] not in CONFIRMABLE:
            raise self._unexpected(intent, "confirm")
        method = params.get("payment_method") or intent["payment_method"]
        if not method:
            raise invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        intent["payment_method"] = method
        decline = DECLINING_METHODS.get(method) or (
            "generic_decline" if self.faults.decline else None
        )
        if decline is not None:
            intent["status"] = "requires_payment_method"
            intent["last_payment_error"] = {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": decline,
                "message": "Your card was declined.",
            }
            self._queue("payment_intent.payment_failed", intent, key)
            raise Refusal(402, {**intent["last_payment_error"], "payment_intent": dict(intent)})
        intent["last_payment_error"] = None
        intent["latest_charge"] = f"ch_{secrets.token_hex(12)}"
        if intent["capture_method"] == "manual":
            intent["status"] = "requires_capture"
            intent["amount_capturable"] = intent["amount"]
            self._queue("payment_intent.amount_capturable_updated", intent, key)
        else:
            intent["status"] = "succeeded"
            intent["amount_received"] = intent["amount"]
            self._queue("payment_intent.succeeded", intent, key)
        return dict(intent)

    def _capture(
        self, intent: dict[str, Any], params: dict[str, str], key: str | None
    ) -> dict[str, Any]:
        if intent["status"] != "requires_capture":
            raise self._unexpected(intent, "capture")
        amount = integer(params, "amount_to_capture")
        amount = intent["amount_capturable"] if amount is None else amount
        if not 0 < amount <= intent["amount_capturable"]:
            raise invalid(
                "Amount to capture must be positive and at most the amount capturable.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self.performed["capture"][key or f"(no key) {intent['id']}"] += 1
        self._queue("payment_intent.succeeded", intent, key)
        return dict(intent)

    def _cancel(
        self, intent: dict[str, Any], params: dict[str, str], key: str | None
    ) -> dict[str, Any]:
        if intent["status"] not in CANCELLABLE:
            raise self._unexpected(intent, "cancel")
        intent.update(
            status="canceled",
            amount_capturable=0,
            canceled_at=int(self.clock()),
            cancellation_reason=params.get("cancellation_reason") or None,
        )
        self._queue("payment_intent.canceled", intent, key)
        return dict(intent)

    # --- refunds ----------------------------------------------------------------------------

    def _refund(self, params: dict[str, str], key: str | None) -> dict[str, Any]:
        intent = self._intent(params.get("payment_intent", ""))
        if intent["status"] != "succeeded":
            raise self._unexpected(intent, "refund")
        left = intent["amount_received"] - self._refunded[intent["id"]]
        amount = integer(params, "amount")
        amount = left if amount is None else amount
        if left <= 0:
            raise invalid(
                f"Charge {intent['latest_charge']} has already been refunded.",
                code="charge_already_refunded",
            )
        if not 0 < amount <= left:
            raise invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                code="amount_too_large",
                param="amount",
            )
        self._refunded[intent["id"]] += amount
        self.performed["refund"][key or f"(no key) {intent['id']}"] += 1
        refund = {
            "id": f"re_{secrets.token_hex(12)}",
            "object": "refund",
            "amount": amount,
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "charge": intent["latest_charge"],
            "reason": params.get("reason") or None,
            "status": "succeeded",
            "created": int(self.clock()),
        }
        self.refunds[refund["id"]] = refund
        charge = {
            "id": intent["latest_charge"],
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount_received"],
            "amount_refunded": self._refunded[intent["id"]],
            "currency": intent["currency"],
            "payment_intent": intent["id"],
            "refunded": self._refunded[intent["id"]] >= intent["amount_received"],
            "metadata": intent["metadata"],
            "refunds": {"object": "list", "data": [refund]},
        }
        self._queue("charge.refunded", charge, key)
        return refund

    def _queue(self, event_type: str, obj: dict[str, Any], key: str | None) -> None:
        self._events.append(
            {
                "id": f"evt_{secrets.token_hex(12)}",
                "object": "event",
                "api_version": API_VERSION,
                "created": int(self.clock()),
                "type": event_type,
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": f"req_{secrets.token_hex(7)}", "idempotency_key": key},
                "data": {"object": json.loads(json.dumps(obj))},
            }
        )
