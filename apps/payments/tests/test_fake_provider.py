"""The Stripe adapter against the fake provider server, started as a real process: declines,
lost answers retried with the same key, slow answers, answers received twice, the provider
down, a key reused with other parameters, and requests checked as Stripe checks them."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import pytest

from apps.payments.gateways.stripe_gateway import KeyReused
from apps.payments.models import ProviderCall
from apps.payments.provider import PaymentsProvider
from apps.payments.services import gateway
from apps.payments.tests.conftest import SECRET_KEY, FakeServer
from cleave.contracts import Event
from cleave.events import captured_events
from contracts.payments import (
    IntentCapture,
    IntentConfirm,
    IntentCreate,
    PaymentDeclined,
    ProviderUnavailable,
)

pytestmark = pytest.mark.django_db(transaction=True)
payments = PaymentsProvider()


def _authorized(key: str = "order-1") -> int:
    intent = payments.intent_create(
        IntentCreate(amount=3000, currency="usd", reference=f"order:{key}", idempotency_key=key)
    )
    payments.intent_confirm(
        IntentConfirm(
            intent_id=intent.intent_id,
            idempotency_key=f"{key}:confirm",
            payment_method="pm_card_visa",
        )
    )
    return intent.intent_id


def _names(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def test_a_declined_card_fails_the_confirmation(fake_server: FakeServer) -> None:
    fake_server.control(decline=True)
    intent = payments.intent_create(
        IntentCreate(amount=3000, currency="usd", reference="order:d", idempotency_key="d")
    )
    with captured_events() as events, pytest.raises(PaymentDeclined):
        payments.intent_confirm(
            IntentConfirm(
                intent_id=intent.intent_id,
                idempotency_key="d:confirm",
                payment_method="pm_card_visa",
            )
        )
    assert _names(events) == ["PaymentFailed"]
    assert fake_server.inspect()["intents"] == {
        intent.provider_intent_id: "requires_payment_method"
    }


def test_a_lost_answer_is_retried_with_the_same_key_and_captures_once(
    fake_server: FakeServer,
) -> None:
    intent_id = _authorized()
    # The provider captures, then never answers: the client times out (1.5 s) and retries.
    fake_server.control(timeouts=1, hang_seconds=4)
    captured = payments.intent_capture(
        IntentCapture(intent_id=intent_id, idempotency_key="order-1:capture")
    )
    assert captured.status == "succeeded"
    assert fake_server.inspect()["captures"] == {"capture:order-1:capture": 1}


def test_a_slow_answer_within_the_timeout_is_waited_for(fake_server: FakeServer) -> None:
    intent_id = _authorized()
    fake_server.control(slow_seconds=0.5)
    started = time.monotonic()
    captured = payments.intent_capture(IntentCapture(intent_id=intent_id, idempotency_key="slow"))
    assert captured.status == "succeeded"
    assert time.monotonic() - started >= 0.5
    assert ProviderCall.objects.get(idempotency_key="capture:slow").attempts == 1


def test_a_request_received_twice_acts_once(fake_server: FakeServer) -> None:
    intent_id = _authorized()
    fake_server.control(answer_twice=1)
    with captured_events() as events:
        payments.intent_capture(IntentCapture(intent_id=intent_id, idempotency_key="twice"))
    assert fake_server.inspect()["captures"] == {"capture:twice": 1}
    assert _names(events) == ["PaymentCaptured"]


def test_while_the_provider_is_down_calls_fail_then_the_same_key_succeeds_once(
    fake_server: FakeServer,
) -> None:
    intent_id = _authorized()
    fake_server.control(down_seconds=4)
    capture = IntentCapture(intent_id=intent_id, idempotency_key="outage")
    with pytest.raises(ProviderUnavailable):
        payments.intent_capture(capture)
    call = ProviderCall.objects.get(idempotency_key="capture:outage")
    assert (call.outcome, call.attempts) == ("", 1)  # unanswered: the next try asks again
    time.sleep(4)
    assert payments.intent_capture(capture).status == "succeeded"
    assert fake_server.inspect()["captures"] == {"capture:outage": 1}


def test_the_provider_refuses_a_key_reused_with_other_parameters(fake_server: FakeServer) -> None:
    provider = gateway.current()
    made = dict(
        currency="usd", reference="order:k", payment_method=None, confirm=False, description=""
    )
    provider.intent_create(amount=1000, key="same", **made)  # type: ignore[arg-type]
    with pytest.raises(KeyReused):
        provider.intent_create(amount=2000, key="same", **made)  # type: ignore[arg-type]


def _raw(fake_server: FakeServer, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{fake_server.base}/v1/payment_intents", data=body, headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_the_fake_checks_requests_as_stripe_does(fake_server: FakeServer) -> None:
    form = b"amount=1000&currency=usd&capture_method=manual"
    good = {
        "Authorization": f"Bearer {SECRET_KEY}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    assert _raw(fake_server, form, good) == 200
    assert _raw(fake_server, form, {**good, "Authorization": "Bearer sk_test_wrong"}) == 401
    assert (
        _raw(fake_server, b'{"amount": 1000}', {**good, "Content-Type": "application/json"}) == 400
    )
    assert _raw(fake_server, b"amount=10&currency=usd", good) == 400  # under the minimum
    assert _raw(fake_server, b"amount=1000&currency=xyz", good) == 400
