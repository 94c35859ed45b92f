"""The purchase flow through the contract, against the in-process test provider: authorize,
capture, refund, cancel, decline; every write once per idempotency key; events carry the
caller's reference."""

from __future__ import annotations

import time

import pytest

from apps.payments.models import PaymentIntent, ProviderCall, WebhookEvent
from apps.payments.provider import PaymentsProvider
from apps.payments.services import gateway
from apps.payments.services.webhooks import deliver_inprocess_webhooks
from cleave.contracts import Event
from cleave.events import captured_events
from contracts.payments import (
    AmountInvalid,
    IdempotencyKeyReused,
    IntentCancel,
    IntentCapture,
    IntentConfirm,
    IntentCreate,
    IntentFind,
    PaymentCancelled,
    PaymentDeclined,
    ProviderUnavailable,
    RefundCreate,
    UnexpectedState,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_provider")]
payments = PaymentsProvider()


def _create(key: str = "saga-1:create", **overrides: object) -> IntentCreate:
    fields: dict[str, object] = {
        "amount": 4200,
        "currency": "eur",
        "reference": "order:1",
        "idempotency_key": key,
        "owner_user_id": 7,
        **overrides,
    }
    return IntentCreate.model_validate(fields)


def _names(events: list[Event]) -> list[str]:
    return [type(event).__name__ for event in events]


def _counts() -> dict[str, dict[str, int]]:
    simulator = gateway.current().simulator
    assert simulator is not None
    return simulator.counts()


def test_authorize_capture_refund_publishes_each_step_once_with_the_reference() -> None:
    with captured_events() as events:
        intent = payments.intent_create(_create())
        assert intent.status == "requires_payment_method"
        assert intent.client_secret.startswith(intent.provider_intent_id + "_secret_")
        authorized = payments.intent_confirm(
            IntentConfirm(
                intent_id=intent.intent_id,
                idempotency_key="saga-1:confirm",
                payment_method="pm_card_visa",
            )
        )
        assert (authorized.status, authorized.amount_capturable) == ("requires_capture", 4200)
        captured = payments.intent_capture(
            IntentCapture(intent_id=intent.intent_id, idempotency_key="saga-1:capture")
        )
        refund = payments.refund_create(
            RefundCreate(intent_id=intent.intent_id, idempotency_key="saga-1:refund", amount=1000)
        )

    assert (captured.status, captured.amount_received) == ("succeeded", 4200)
    assert (refund.amount, refund.intent.amount_refunded) == (1000, 1000)
    assert _names(events) == ["PaymentAuthorized", "PaymentCaptured", "PaymentRefunded"]
    assert {event.reference for event in events} == {"order:1"}  # type: ignore[attr-defined]
    # The in-process provider's webhooks arrived too (signed, verified) and changed nothing more.
    assert WebhookEvent.objects.filter(result="stale").count() >= 2


def test_retrying_every_call_with_its_key_acts_once_and_answers_the_same() -> None:
    first = payments.intent_create(_create())
    again = payments.intent_create(_create())
    assert again.intent_id == first.intent_id
    confirm = IntentConfirm(
        intent_id=first.intent_id, idempotency_key="k:confirm", payment_method="pm_card_visa"
    )
    capture = IntentCapture(intent_id=first.intent_id, idempotency_key="k:capture")
    with captured_events() as events:
        for _ in range(3):
            payments.intent_confirm(confirm)
            payments.intent_capture(capture)
    assert _names(events) == ["PaymentAuthorized", "PaymentCaptured"]
    assert _counts()["capture"] == {"capture:k:capture": 1}
    assert PaymentIntent.objects.count() == 1


def test_a_key_reused_with_other_arguments_is_refused() -> None:
    payments.intent_create(_create())
    with pytest.raises(IdempotencyKeyReused):
        payments.intent_create(_create(amount=9999))


def test_capture_before_authorization_is_refused_by_the_provider_and_charges_nothing() -> None:
    intent = payments.intent_create(_create())
    with pytest.raises(UnexpectedState) as refused:
        payments.intent_capture(IntentCapture(intent_id=intent.intent_id, idempotency_key="early"))
    assert refused.value.details["status"] == "requires_payment_method"
    assert _counts()["capture"] == {}
    # The refusal is the key's answer from now on.
    with pytest.raises(UnexpectedState):
        payments.intent_capture(IntentCapture(intent_id=intent.intent_id, idempotency_key="early"))
    assert ProviderCall.objects.get(idempotency_key="capture:early").outcome == "invalid_state"


def test_a_decline_fails_once_and_another_method_can_still_pay() -> None:
    intent = payments.intent_create(_create())
    declined = IntentConfirm(
        intent_id=intent.intent_id, idempotency_key="try-1", payment_method="pm_card_chargeDeclined"
    )
    with captured_events() as events:
        for _ in range(2):
            with pytest.raises(PaymentDeclined) as error:
                payments.intent_confirm(declined)
        assert error.value.details["decline_code"] == "generic_decline"
        paid = payments.intent_confirm(
            IntentConfirm(
                intent_id=intent.intent_id, idempotency_key="try-2", payment_method="pm_card_visa"
            )
        )
    assert paid.status == "requires_capture"
    assert _names(events) == ["PaymentFailed", "PaymentAuthorized"]


def test_create_with_a_saved_method_authorizes_at_once() -> None:
    with captured_events() as events:
        intent = payments.intent_create(_create(payment_method="pm_card_visa", confirm=True))
    assert intent.status == "requires_capture"
    assert _names(events) == ["PaymentAuthorized"]


def test_cancel_releases_an_authorization_and_then_capture_is_refused() -> None:
    intent = payments.intent_create(_create(payment_method="pm_card_visa", confirm=True))
    with captured_events() as events:
        cancelled = payments.intent_cancel(
            IntentCancel(
                intent_id=intent.intent_id, idempotency_key="c", reason="requested_by_customer"
            )
        )
        payments.intent_cancel(
            IntentCancel(
                intent_id=intent.intent_id, idempotency_key="c", reason="requested_by_customer"
            )
        )
    assert cancelled.status == "canceled"
    assert [(type(e), e.reason) for e in events] == [(PaymentCancelled, "requested_by_customer")]  # type: ignore[attr-defined]
    with pytest.raises(UnexpectedState):
        payments.intent_capture(IntentCapture(intent_id=intent.intent_id, idempotency_key="late"))
    assert _counts()["capture"] == {}


def test_a_refund_never_exceeds_what_was_captured() -> None:
    intent = payments.intent_create(_create(payment_method="pm_card_visa", confirm=True))
    payments.intent_capture(IntentCapture(intent_id=intent.intent_id, idempotency_key="cap"))
    payments.refund_create(
        RefundCreate(intent_id=intent.intent_id, idempotency_key="r1", amount=4000)
    )
    with pytest.raises(AmountInvalid) as too_much:
        payments.refund_create(
            RefundCreate(intent_id=intent.intent_id, idempotency_key="r2", amount=500)
        )
    assert too_much.value.code == "payments.amount_invalid"
    assert _counts()["refund"] == {"refund:r1": 1}


def test_find_tells_a_caller_that_crashed_what_its_key_created() -> None:
    assert payments.intent_find(IntentFind(idempotency_key="nothing-yet")).intent is None
    made = payments.intent_create(_create(key="found"))
    found = payments.intent_find(IntentFind(idempotency_key="found")).intent
    assert found is not None
    assert found.intent_id == made.intent_id


def test_a_create_the_provider_refuses_is_refused_again_on_retry_without_asking_twice() -> None:
    for _ in range(2):
        with pytest.raises(AmountInvalid):
            payments.intent_create(_create(key="tiny", amount=10))  # under Stripe's minimum
        with pytest.raises(PaymentDeclined):
            payments.intent_create(
                _create(key="saved", payment_method="pm_card_chargeDeclined", confirm=True)
            )
    calls = ProviderCall.objects.filter(operation="create").order_by("pk")
    assert [(c.outcome, c.attempts) for c in calls] == [("invalid_amount", 1), ("declined", 1)]


def test_the_in_process_provider_loses_answers_and_goes_down_like_the_fake_server() -> None:
    simulator = gateway.current().simulator
    assert simulator is not None
    intent = payments.intent_create(_create(payment_method="pm_card_visa", confirm=True))
    capture = IntentCapture(intent_id=intent.intent_id, idempotency_key="flaky")
    simulator.faults.down_until = time.time() + 60
    with pytest.raises(ProviderUnavailable):
        payments.intent_capture(capture)
    simulator.faults.down_until = 0
    simulator.faults.timeouts = 1  # captured, answer lost: the client retries with the key
    assert payments.intent_capture(capture).status == "succeeded"
    assert _counts()["capture"] == {"capture:flaky": 1}
    assert ProviderCall.objects.get(idempotency_key="capture:flaky").attempts == 2


def test_a_refund_whose_webhook_comes_before_its_answer_is_ours_and_told_once() -> None:
    intent = payments.intent_create(_create(payment_method="pm_card_visa", confirm=True))
    payments.intent_capture(IntentCapture(intent_id=intent.intent_id, idempotency_key="cap"))
    provider = gateway.current()
    with captured_events() as events:
        # The provider refunds and its webhook lands first (our answer is still on its way).
        provider.refund_create(
            provider_intent_id=intent.provider_intent_id,
            amount=None,
            reason="requested_by_customer",
            key="refund:late-answer",
        )
        deliver_inprocess_webhooks()
        refund = payments.refund_create(
            RefundCreate(intent_id=intent.intent_id, idempotency_key="late-answer")
        )
    assert (refund.amount, refund.intent.amount_refunded) == (4200, 4200)
    assert _names(events) == ["PaymentRefunded"]
    assert _counts()["refund"] == {"refund:late-answer": 1}
