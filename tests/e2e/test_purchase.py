"""Across ticketing and payments, in process: buying a ticket as a phone app does — place the
order, read its client secret, confirm the payment (test mode), follow the order's frames —
and the decline and cancel walks, against both providers: the in-process test provider
(embedded mode's) and the fake Stripe server as a process of its own (the stripe client over
HTTP, as real mode). The provider's own ledger proves the money side: at most one capture per
key, a refund only of a capture, nothing kept from a buyer whose order was cancelled."""

from __future__ import annotations

import json
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from apps.payments.services import gateway
from apps.ticketing.tests import factories
from cleave.auth.testing import Signer, token_signer
from cleave.realtime.hub import store
from cleave.testing.processes import free_port
from cleave.testing.servers import running_server

pytestmark = pytest.mark.django_db(transaction=True)
SECRET_KEY = "sk_test_purchase_fake_key"
WEBHOOK_SECRET = "whsec_purchase_fake_secret"


class Provider:
    """The provider in use and its ledger: captures and refunds per idempotency key."""

    def __init__(self, base: str | None) -> None:
        self.base = base

    def ledger(self) -> dict[str, dict[str, int]]:
        if self.base is None:
            simulator = gateway.current().simulator
            assert simulator is not None
            counts = simulator.counts()
            return {"captures": counts["capture"], "refunds": counts["refund"]}
        with urllib.request.urlopen(f"{self.base}/_inspect", timeout=5) as answer:  # noqa: S310 - loopback
            found = json.loads(answer.read())
        return {"captures": found["captures"], "refunds": found["refunds"]}

    def reset(self) -> None:
        if self.base is not None:
            request = urllib.request.Request(f"{self.base}/_reset", data=b"{}", method="POST")  # noqa: S310 - loopback
            with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
                pass


@pytest.fixture(scope="module")
def fake_stripe() -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "apps.payments.testing.fake_stripe", "--port", str(port)]
    env = {"FAKE_STRIPE_SECRET_KEY": SECRET_KEY, "FAKE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    with running_server(command, port=port, env=env, ready_path="/_health") as base:
        yield base


@pytest.fixture(params=["test", "stripe"])
def provider(request: pytest.FixtureRequest, settings: Any) -> Iterator[Provider]:
    """Events and sagas run in process (as embedded mode runs them); payments talks to the
    in-process test provider, or to the fake Stripe server with test-mode confirmation on."""
    settings.CLEAVE_EVENTS_INPROCESS = True
    settings.CLEAVE_PAYMENTS_PROVIDER = request.param
    used = Provider(None)
    if request.param == "stripe":
        base = request.getfixturevalue("fake_stripe")
        settings.CLEAVE_STRIPE_API_BASE = base
        settings.CLEAVE_STRIPE_SECRET_KEY = SECRET_KEY
        settings.CLEAVE_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
        settings.CLEAVE_PAYMENTS_TEST_CONFIRM = True
        used = Provider(base)
        used.reset()
    gateway._build.cache_clear()
    yield used
    gateway._build.cache_clear()


@pytest.fixture
def buyer() -> Iterator[Client]:
    signer: Signer
    with token_signer() as signer:
        yield Client(HTTP_AUTHORIZATION=f"Bearer {signer(user_id=41, roles=('user',))}")


def _json(answer: Any, status: int = 200) -> Any:
    assert answer.status_code == status, answer.content
    return answer.json()


def _order(buyer: Client, category_id: int, key: str, **extra: Any) -> dict[str, Any]:
    body = {"category_id": category_id, "quantity": 2, **extra}
    placed = buyer.post(
        "/api/v1/ticketing/orders", body, content_type="application/json",
        HTTP_IDEMPOTENCY_KEY=key,
    )  # fmt: skip
    order: dict[str, Any] = _json(placed, 201)
    return order


def _get(buyer: Client, order_id: str) -> dict[str, Any]:
    order: dict[str, Any] = _json(buyer.get(f"/api/v1/ticketing/orders/{order_id}"))
    return order


def _confirm(buyer: Client, intent_id: int, method: str) -> Any:
    """What the provider's SDK does with the client secret; test mode goes through Cleave."""
    return buyer.post(
        f"/api/v1/payments/intents/{intent_id}/test-confirm", {"payment_method": method},
        content_type="application/json",
    )  # fmt: skip


def _statuses(order_id: str) -> list[str]:
    replay = store().since(f"order:{order_id}", 0, None, cap=100)
    return [json.loads(frame)["data"]["status"] for _, frame in replay.entries]


def _available(buyer: Client, show_id: int) -> int:
    show = _json(buyer.get(f"/api/v1/ticketing/shows/{show_id}"))
    return int(show["categories"][0]["available"])


def _no_double_effect(ledger: dict[str, dict[str, int]]) -> None:
    assert all(count == 1 for count in ledger["captures"].values()), ledger
    assert len(ledger["refunds"]) <= len(ledger["captures"]), ledger


def test_a_buyer_pays_with_the_client_secret_and_gets_tickets(
    provider: Provider, buyer: Client
) -> None:
    show = factories.show(capacity=10)
    category = factories.category_of(show)

    placed = _order(buyer, category.pk, "buy-1")
    awaiting = _get(buyer, placed["id"])
    intent = _json(buyer.get(f"/api/v1/payments/intents/{awaiting['payment']['intent_id']}"))
    confirmed = _json(_confirm(buyer, intent["id"], "pm_card_visa"))
    done = _get(buyer, placed["id"])
    tickets = _json(buyer.get("/api/v1/ticketing/tickets"))["items"]

    assert awaiting["status"] == "awaiting_payment"
    assert awaiting["payment"]["client_secret"] == intent["client_secret"]
    assert (intent["amount"], intent["currency"]) == (10000, "eur")
    assert confirmed["status"] in ("requires_capture", "succeeded")
    assert (done["status"], done["saga_state"]) == ("completed", "completed")
    assert done["payment"]["status"] == "succeeded"
    assert sorted(t["id"] for t in tickets) == sorted(done["ticket_ids"])
    assert _statuses(placed["id"]) == [
        "placed", "awaiting_payment", "authorized", "paid", "completed",
    ]  # fmt: skip
    assert _available(buyer, show.pk) == 8
    ledger = provider.ledger()
    assert list(ledger["captures"].values()) == [1]
    assert ledger["refunds"] == {}


def test_a_declined_card_cancels_the_order_and_keeps_no_money(
    provider: Provider, buyer: Client
) -> None:
    show = factories.show(capacity=10)
    placed = _order(buyer, factories.category_of(show).pk, "buy-2")
    intent_id = _get(buyer, placed["id"])["payment"]["intent_id"]

    declined = _confirm(buyer, intent_id, "pm_card_chargeDeclined")

    assert declined.status_code == 402, declined.content
    order = _get(buyer, placed["id"])
    assert (order["status"], order["reason"]) == ("cancelled", "declined")
    assert order["payment"]["status"] == "canceled"
    assert _available(buyer, show.pk) == 10
    assert _json(buyer.get("/api/v1/ticketing/tickets"))["items"] == []
    assert provider.ledger() == {"captures": {}, "refunds": {}}


def test_the_buyer_cancels_before_paying_and_the_payment_is_cancelled(
    provider: Provider, buyer: Client
) -> None:
    show = factories.show(capacity=10)
    placed = _order(buyer, factories.category_of(show).pk, "buy-3")
    intent_id = _get(buyer, placed["id"])["payment"]["intent_id"]

    _json(buyer.post(f"/api/v1/ticketing/orders/{placed['id']}/cancel"))
    late = _confirm(buyer, intent_id, "pm_card_visa")  # the app did not hear of the cancel

    order = _get(buyer, placed["id"])
    assert (order["status"], order["reason"]) == ("cancelled", "cancelled")
    assert order["payment"]["status"] == "canceled"
    assert late.status_code == 409, late.content  # a cancelled intent takes no confirmation
    assert _available(buyer, show.pk) == 10
    assert provider.ledger() == {"captures": {}, "refunds": {}}
    assert _statuses(placed["id"])[-2:] == ["cancelling", "cancelled"]


def test_a_saved_card_buys_in_one_request_and_a_retry_buys_nothing_more(
    provider: Provider, buyer: Client
) -> None:
    show = factories.show(capacity=10)
    category = factories.category_of(show)

    first = _order(buyer, category.pk, "buy-4", payment_method="pm_card_visa")
    again = _order(buyer, category.pk, "buy-4", payment_method="pm_card_visa")

    assert again["id"] == first["id"]
    assert _get(buyer, first["id"])["status"] == "completed"
    assert _available(buyer, show.pk) == 8
    ledger = provider.ledger()
    _no_double_effect(ledger)
    assert len(ledger["captures"]) == 1


def test_a_saved_card_declined_at_once_cancels_the_order_and_holds_nothing(
    provider: Provider, buyer: Client
) -> None:
    show = factories.show(capacity=10)
    method = "pm_card_chargeDeclined"

    placed = _order(buyer, factories.category_of(show).pk, "buy-5", payment_method=method)

    order = _get(buyer, placed["id"])
    assert (order["status"], order["reason"]) == ("cancelled", "declined")
    assert _available(buyer, show.pk) == 10
    assert provider.ledger() == {"captures": {}, "refunds": {}}
