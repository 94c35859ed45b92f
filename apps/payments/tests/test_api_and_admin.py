"""The app's view of a payment (its own intent, with the client secret its SDK needs), the
test-mode confirmation (test provider only), and the admin's audited refund."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client

from apps.payments.models import PaymentIntent
from apps.payments.services import gateway, intents
from apps.payments.tests import factories
from cleave.auth.testing import Signer, token_signer
from cleave.events import captured_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("test_provider")]


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


def _as(sign: Signer, user_id: int) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {sign(user_id=user_id)}")


def test_the_owner_reads_its_intent_with_the_client_secret_and_nobody_else_does(
    sign: Signer,
) -> None:
    intent = factories.intent(owner_user_id=7)
    mine = _as(sign, 7).get(f"/api/v1/payments/intents/{intent.pk}")
    assert mine.status_code == 200
    body = mine.json()
    assert (body["status"], body["amount"], body["provider"]) == (
        "requires_payment_method",
        2500,
        "test",
    )
    assert body["client_secret"].startswith(f"{intent.provider_intent_id}_secret_")
    theirs = _as(sign, 8).get(f"/api/v1/payments/intents/{intent.pk}")
    assert (theirs.status_code, theirs.json()["error"]["code"]) == (
        404,
        "payments.intent_not_found",
    )


def test_the_test_confirmation_authorizes_or_declines_like_the_sdk(sign: Signer) -> None:
    intent = factories.intent(owner_user_id=7)
    app = _as(sign, 7)
    path = f"/api/v1/payments/intents/{intent.pk}/test-confirm"
    declined = app.post(
        path, {"payment_method": "pm_card_chargeDeclined"}, content_type="application/json"
    )
    assert (declined.status_code, declined.json()["error"]["code"]) == (402, "payments.declined")
    with captured_events() as events:
        paid = app.post(path, {}, content_type="application/json")
    assert (paid.status_code, paid.json()["status"]) == (200, "requires_capture")
    assert [event.event_type for event in events] == ["payments.payment_authorized"]


def test_the_test_confirmation_is_refused_with_the_real_provider(
    sign: Signer, settings: Any
) -> None:
    intent = factories.intent(owner_user_id=7)
    settings.CLEAVE_PAYMENTS_PROVIDER = "stripe"
    settings.CLEAVE_STRIPE_SECRET_KEY = "sk_live_not_a_test_key"
    settings.CLEAVE_PAYMENTS_TEST_CONFIRM = True  # asked for, but never with a live key
    assert not gateway.test_confirm_allowed()
    response = _as(sign, 7).post(
        f"/api/v1/payments/intents/{intent.pk}/test-confirm", {}, content_type="application/json"
    )
    assert (response.status_code, response.json()["error"]["code"]) == (
        403,
        "payments.test_mode_only",
    )


def test_staff_refund_through_the_service_and_the_admin_records_who(admin_client: Client) -> None:
    intent = factories.intent(confirmed=True)
    intents.intent_capture(intent_id=intent.pk, idempotency_key="cap")
    assert admin_client.get(f"/admin/payments/paymentintent/{intent.pk}/change/").status_code == 200
    with captured_events() as events:
        response = admin_client.post(
            "/admin/payments/paymentintent/",
            {"action": "refund_in_full", "_selected_action": [intent.pk]},
        )
        # Clicked twice: nothing is left to refund, and nothing more is refunded.
        admin_client.post(
            "/admin/payments/paymentintent/",
            {"action": "refund_in_full", "_selected_action": [intent.pk]},
        )
    assert response.status_code == 302
    assert PaymentIntent.objects.get(pk=intent.pk).amount_refunded == 2500
    assert [event.event_type for event in events] == ["payments.payment_refunded"]
    entry = LogEntry.objects.get(object_id=str(intent.pk))
    assert entry.change_message == "Refunded in full through the payments service."
    assert (
        admin_client.post(
            f"/admin/payments/paymentintent/{intent.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
