"""Stripe's PaymentIntents API through the official `stripe` client.

Every write carries the caller's idempotency key (`Idempotency-Key`); the client retries a
connection error, a timeout, a 409 or a 5xx with that same key (`max_network_retries`), so a
retried capture is Stripe's replay, never a second capture. Stripe's errors become the
`GatewayError` tree below, which the services turn into the contract's typed errors:

    GatewayError
    ├── Declined            402 card_error: the method was refused (intent back to
    │                       requires_payment_method)
    ├── InvalidState        payment_intent_unexpected_state (capture before authorization…)
    ├── InvalidAmount       amount_too_small / amount_too_large / charge_already_refunded
    ├── KeyReused           idempotency_error: the key was used with other parameters
    ├── UnknownIntent       resource_missing
    └── Unavailable         no answer within the timeout after the retries, a 5xx, a 429,
                            or a refused key: nothing known to be done; retry with the same key

Embedded mode plugs the simulator in as the HTTP client (`InProcessHTTPClient`), so the same
code (encoding, headers, retries, error mapping) runs with no network and no account.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import stripe

from apps.payments.gateways.simulator import StripeSimulator


@dataclass(frozen=True)
class IntentSnapshot:
    """The provider's view of an intent after a call (or in a webhook)."""

    provider_intent_id: str
    status: str
    amount: int
    currency: str
    amount_capturable: int
    amount_received: int
    client_secret: str
    metadata: Mapping[str, str]
    decline_code: str = ""

    @classmethod
    def of(cls, data: Any) -> IntentSnapshot:
        """From a `stripe.PaymentIntent` or the plain dict of an error body or webhook."""
        data = data.to_dict() if isinstance(data, stripe.StripeObject) else data
        error = data.get("last_payment_error") or {}
        return cls(
            provider_intent_id=str(data["id"]),
            status=str(data["status"]),
            amount=int(data["amount"]),
            currency=str(data["currency"]),
            amount_capturable=int(data.get("amount_capturable") or 0),
            amount_received=int(data.get("amount_received") or 0),
            client_secret=str(data.get("client_secret") or ""),
            metadata=dict(data.get("metadata") or {}),
            decline_code=str(error.get("decline_code") or error.get("code") or ""),
        )


@dataclass(frozen=True)
class RefundSnapshot:
    provider_refund_id: str
    provider_intent_id: str
    amount: int
    status: str


class GatewayError(Exception):
    def __init__(
        self, message: str, *, code: str = "", intent: IntentSnapshot | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.intent = intent


class Declined(GatewayError):
    pass


class InvalidState(GatewayError):
    pass


class InvalidAmount(GatewayError):
    pass


class KeyReused(GatewayError):
    pass


class UnknownIntent(GatewayError):
    pass


class Unavailable(GatewayError):
    pass


class InProcessHTTPClient(stripe.HTTPClient):
    """The `stripe` client's transport, answered by a simulator in this process. Honours the
    transport faults the simulator was told (down, timeouts, slow) the way a network would."""

    name = "cleave-inprocess"

    def __init__(self, simulator: StripeSimulator) -> None:
        super().__init__()
        self.simulator = simulator

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[str, int, Mapping[str, str]]:
        faults = self.simulator.faults
        if faults.down_until > time.time():
            raise stripe.APIConnectionError(
                "Connection refused (test provider down)", should_retry=True
            )
        if faults.slow_seconds:
            time.sleep(faults.slow_seconds)
        path = "/" + url.split("://", 1)[-1].split("/", 1)[-1]
        lowered = {name.lower(): value for name, value in (headers or {}).items()}
        body = (post_data or "").encode() if isinstance(post_data, str) else (post_data or b"")
        answer = self.simulator.handle(method.upper(), path, lowered, body)
        if faults.take("answer_twice"):
            answer = self.simulator.handle(method.upper(), path, lowered, body)
        if faults.take("timeouts"):
            raise stripe.APIConnectionError("Read timed out (test provider)", should_retry=True)
        headers_out = {"Request-Id": "req_inprocess", **answer.headers}
        return answer.encoded().decode(), answer.status, headers_out

    def close(self) -> None:
        return None


class StripeGateway:
    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str,
        webhook_secret: str,
        timeout: float,
        max_retries: int,
        webhook_tolerance: int,
        simulator: StripeSimulator | None = None,
    ) -> None:
        http_client: stripe.HTTPClient = (
            InProcessHTTPClient(simulator)
            if simulator is not None
            else stripe.RequestsClient(timeout=timeout)
        )
        self.simulator = simulator
        self.name = "test" if simulator is not None else "stripe"
        self.webhook_secret = webhook_secret
        self.webhook_tolerance = webhook_tolerance
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=max_retries,
            http_client=http_client,
        )

    def intent_create(
        self,
        *,
        amount: int,
        currency: str,
        reference: str,
        payment_method: str | None,
        confirm: bool,
        description: str,
        key: str,
    ) -> IntentSnapshot:
        params: dict[str, Any] = {
            "amount": amount,
            "currency": currency,
            "capture_method": "manual",
            "metadata": {"reference": reference},
        }
        if description:
            params["description"] = description
        if payment_method:
            params["payment_method"] = payment_method
            params["confirm"] = confirm
        return self._intent("create", params, key)

    def intent_confirm(
        self, *, provider_intent_id: str, payment_method: str, key: str
    ) -> IntentSnapshot:
        return self._intent("confirm", {"payment_method": payment_method}, key, provider_intent_id)

    def intent_capture(
        self, *, provider_intent_id: str, amount: int | None, key: str
    ) -> IntentSnapshot:
        params = {} if amount is None else {"amount_to_capture": amount}
        return self._intent("capture", params, key, provider_intent_id)

    def intent_cancel(self, *, provider_intent_id: str, reason: str, key: str) -> IntentSnapshot:
        return self._intent("cancel", {"cancellation_reason": reason}, key, provider_intent_id)

    def intent_retrieve(self, *, provider_intent_id: str) -> IntentSnapshot:
        return self._call(
            lambda: IntentSnapshot.of(self._client.v1.payment_intents.retrieve(provider_intent_id))
        )

    def refund_create(
        self, *, provider_intent_id: str, amount: int | None, reason: str, key: str
    ) -> RefundSnapshot:
        params: dict[str, Any] = {"payment_intent": provider_intent_id, "reason": reason}
        if amount is not None:
            params["amount"] = amount

        def create() -> RefundSnapshot:
            options: Any = {"idempotency_key": key}
            refund = self._client.v1.refunds.create(params, options).to_dict()  # type: ignore[arg-type]
            return RefundSnapshot(
                provider_refund_id=str(refund["id"]),
                provider_intent_id=str(refund["payment_intent"]),
                amount=int(refund["amount"]),
                status=str(refund["status"]),
            )

        return self._call(create)

    def webhook_event(self, *, payload: bytes, signature: str) -> dict[str, Any]:
        """The event, once its `Stripe-Signature` is verified with the stripe package's own
        verifier (HMAC-SHA256 of "t.payload", within the tolerance). Raises
        `stripe.SignatureVerificationError` otherwise; `ValueError` for a body that is not
        JSON."""
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"), signature, self.webhook_secret, self.webhook_tolerance
        )
        event: dict[str, Any] = json.loads(payload)
        return event

    def pending_webhooks(self) -> list[tuple[bytes, str]]:
        """The in-process provider's webhooks, signed as Stripe signs them, ready to deliver."""
        if self.simulator is None:
            return []
        signed = []
        for event in self.simulator.drain_events():
            payload = json.dumps(event)
            header = stripe.WebhookSignature.generate_signature_header(payload, self.webhook_secret)
            signed.append((payload.encode(), header))
        return signed

    def _intent(
        self, action: str, params: dict[str, Any], key: str, intent_id: str | None = None
    ) -> IntentSnapshot:
        service = self._client.v1.payment_intents
        options: Any = {"idempotency_key": key}

        def run() -> IntentSnapshot:
            if action == "create":
                return IntentSnapshot.of(service.create(params, options))  # type: ignore[arg-type]
            method = getattr(service, action)
            return IntentSnapshot.of(method(intent_id, params, options))

        return self._call(run)

    def _call(self, run: Any) -> Any:
        try:
            return run()
        except stripe.StripeError as error:
            raise _mapped(error) from error


def _mapped(error: stripe.StripeError) -> GatewayError:
    json_body: Any = error.json_body or {}
    body: dict[str, Any] = dict(json_body.get("error") or {}) if isinstance(json_body, dict) else {}
    code = str(body.get("code") or "")
    intent = IntentSnapshot.of(body["payment_intent"]) if body.get("payment_intent") else None
    message = str(body.get("message") or error.user_message or type(error).__name__)
    if isinstance(error, stripe.CardError):
        decline = str(body.get("decline_code") or code or "card_declined")
        return Declined(message, code=decline, intent=intent)
    if isinstance(error, stripe.IdempotencyError) or body.get("type") == "idempotency_error":
        return KeyReused(message, code="idempotency_error")
    if isinstance(error, stripe.InvalidRequestError):
        if code == "payment_intent_unexpected_state":
            return InvalidState(message, code=code, intent=intent)
        if code in {"amount_too_small", "amount_too_large", "charge_already_refunded"}:
            return InvalidAmount(message, code=code)
        if code == "resource_missing":
            return UnknownIntent(message, code=code)
        if body.get("param") in {"amount", "currency", "amount_to_capture"}:
            return InvalidAmount(message, code=code)
        if error.http_status == 400:
            return GatewayError(message, code=code)  # our request is wrong: a bug, not a retry
    # Connection errors, timeouts, 5xx, rate limits, a key refused: nothing is known to have
    # happened, and the same key makes a later retry safe.
    return Unavailable(f"{type(error).__name__}: {message}", code=code or "provider_unavailable")
