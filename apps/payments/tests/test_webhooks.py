"""Webhooks: Stripe's signature scheme checked (good, bad, too old) at the endpoint; duplicated,
late and out-of-order deliveries from the fake provider server change nothing twice."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe
from django.test import Client

from apps.payments.models import PaymentIntent, WebhookEvent
from apps.payments.provider import PaymentsProvider
from apps.payments.services import webhooks
from apps.payments.services.gateway import TEST_WEBHOOK_SECRET
from apps.payments.testing.fake_stripe import signature_header
from apps.payments.tests.conftest import SECRET_KEY, FakeServer, Receiver
from cleave.contracts import Event
from cleave.events import captured_events
from cleave.testing.processes import wait_for
from contracts.payments import IntentCapture, IntentCreate

pytestmark = pytest.mark.django_db(transaction=True)
payments = PaymentsProvider()
HOOK = "/api/v1/payments/webhooks/stripe"


def _names(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def _event(intent: PaymentIntent, kind: str, status: str, **fields: Any) -> dict[str, Any]:
    obj = {
        "id": intent.provider_intent_id,
        "object": "payment_intent",
        "amount": intent.amount,
        "currency": intent.currency,
        "status": status,
        "amount_capturable": intent.amount if status == "requires_capture" else 0,
        "amount_received": intent.amount if status == "succeeded" else 0,
        **fields,
    }
    return {
        "id": f"evt_{kind}_{status}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": obj},
    }


def _post(event: dict[str, Any], *, secret: str = TEST_WEBHOOK_SECRET, age: int = 0) -> Any:
    payload = json.dumps(event)
    header = signature_header(payload, secret, timestamp=int(time.time()) - age)
    return Client().post(
        HOOK, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
    )


@pytest.mark.usefixtures("test_provider")
def test_a_signed_webhook_is_applied_and_its_duplicate_changes_nothing() -> None:
    made = payments.intent_create(
        IntentCreate(amount=2000, currency="eur", reference="order:w", idempotency_key="w")
    )
    intent = PaymentIntent.objects.get(pk=made.intent_id)
    authorized = _event(intent, "payment_intent.amount_capturable_updated", "requires_capture")
    with captured_events() as events:
        first, again = _post(authorized), _post(authorized)
    assert (first.status_code, first.json()["result"]) == (200, "applied")
    assert (again.status_code, again.json()["result"]) == (200, "duplicate")
    assert _names(events) == ["PaymentAuthorized"]
    assert events[0].reference == "order:w"  # type: ignore[attr-defined]


@pytest.mark.usefixtures("test_provider")
@pytest.mark.parametrize(
    ("secret", "age", "reason"),
    [("whsec_someone_else", 0, "signature"), (TEST_WEBHOOK_SECRET, 600, "tolerance")],
)
def test_a_webhook_badly_signed_or_too_old_is_refused(secret: str, age: int, reason: str) -> None:
    made = payments.intent_create(
        IntentCreate(amount=2000, currency="eur", reference="order:x", idempotency_key="x")
    )
    intent = PaymentIntent.objects.get(pk=made.intent_id)
    response = _post(
        _event(intent, "payment_intent.succeeded", "succeeded"), secret=secret, age=age
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "payments.webhook_signature_invalid"
    assert reason in error["message"].lower()
    assert WebhookEvent.objects.count() == 0
    assert PaymentIntent.objects.get(pk=made.intent_id).status == "requires_payment_method"


@pytest.mark.usefixtures("test_provider")
def test_a_capture_reported_before_its_authorization_tells_both_once() -> None:
    made = payments.intent_create(
        IntentCreate(amount=2000, currency="eur", reference="order:o", idempotency_key="o")
    )
    intent = PaymentIntent.objects.get(pk=made.intent_id)
    succeeded = _event(intent, "payment_intent.succeeded", "succeeded")
    authorized = _event(intent, "payment_intent.amount_capturable_updated", "requires_capture")
    with captured_events() as events:
        assert webhooks.webhook_apply(succeeded) == "applied"
        assert webhooks.webhook_apply(authorized) == "stale"  # late: changes nothing
    assert _names(events) == ["PaymentAuthorized", "PaymentCaptured"]
    assert PaymentIntent.objects.get(pk=made.intent_id).status == "succeeded"


def _confirm_at_the_provider(fake_server: FakeServer, provider_intent_id: str) -> None:
    """What the app's SDK does with the client secret: confirm at the provider, not with us."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": fake_server.base})
    client.v1.payment_intents.confirm(provider_intent_id, {"payment_method": "pm_card_visa"})


def _deliver(receiver: Receiver, count: int) -> list[str]:
    wait_for(lambda: len(receiver.received) >= count, timeout=10)
    return [webhooks.webhook_receive(payload=p, signature=s) for p, s in receiver.received]


@pytest.mark.parametrize("mode", ["duplicate", "out_of_order", "late"])
def test_webhooks_from_the_fake_server_change_nothing_twice(
    fake_server: FakeServer, receiver: Receiver, mode: str
) -> None:
    fake_server.control(webhook_url=receiver.url, webhook_mode=mode, webhook_delay=0.5)
    made = payments.intent_create(
        IntentCreate(amount=2000, currency="usd", reference="order:f", idempotency_key=f"f-{mode}")
    )
    with captured_events() as events:
        _confirm_at_the_provider(fake_server, made.provider_intent_id)
        payments.intent_capture(
            IntentCapture(intent_id=made.intent_id, idempotency_key=f"cap-{mode}")
        )
        if mode == "out_of_order":
            fake_server.flush_webhooks()
        results = _deliver(receiver, 4 if mode == "duplicate" else 2)
    assert _names(events) == ["PaymentAuthorized", "PaymentCaptured"]
    assert PaymentIntent.objects.get(pk=made.intent_id).status == "succeeded"
    if mode == "duplicate":
        assert results.count("duplicate") == 2
    assert fake_server.inspect()["captures"] == {f"capture:cap-{mode}": 1}
