"""Orders and the purchase saga, with payments replaced by a fake of its contract: a purchase
completes once the payment is confirmed; a decline, the buyer's cancel, a passed deadline or a
later step's failure undo everything (tickets voided, money back, seats released); each
transition is a frame on the order's stream. The real payments context: tests/e2e."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from apps.ticketing import realtime, selectors, subscribers
from apps.ticketing.error_codes import SoldOut
from apps.ticketing.models import Hold, Order, Ticket
from apps.ticketing.services import holds, orders
from apps.ticketing.tests import factories
from apps.ticketing.tests.fakes import DECLINED_METHOD, FakePayments
from cleave.auth.principal import Principal
from cleave.events import captured_events
from cleave.realtime.hub import store
from cleave.sagas import saga_get, saga_start
from cleave.sagas.sweeper import sweep
from contracts.payments import PaymentAuthorized, PaymentFailed
from contracts.ticketing import OrderCancelled, OrderCompleted, OrderPlaced

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sagas_in_process(settings: Any) -> None:
    """Sagas run in this process after each commit, as embedded mode runs them (in real mode
    they would wait for a worker this test does not start)."""
    settings.CLEAVE_EVENTS_INPROCESS = True


def _place(buyer: Any, category_id: int, quantity: int = 2, **extra: Any) -> dict[str, Any]:
    body = {"category_id": category_id, "quantity": quantity, **extra}
    answer = buyer.call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert answer.status_code == 201, answer.content
    result: dict[str, Any] = answer.json()
    return result


def _get(buyer: Any, order_id: str) -> dict[str, Any]:
    answer = buyer.call("get", f"/orders/{order_id}")
    assert answer.status_code == 200, answer.content
    result: dict[str, Any] = answer.json()
    return result


def _authorized(payments: FakePayments, order_id: str, *, confirm: bool = True) -> None:
    """The buyer's SDK confirms, and payments' event reaches ticketing's subscriber (with
    `confirm=False`, only the event: a late or stray delivery)."""
    intent = payments.intent_for(f"order:{order_id}")
    if confirm:
        payments.authorize(intent["intent_id"])
    subscribers.on_payment_authorized(
        PaymentAuthorized(
            aggregate_id=str(intent["intent_id"]), intent_id=intent["intent_id"],
            reference=intent["reference"], amount=intent["amount"], currency="eur",
            amount_capturable=intent["amount"],
        )
    )  # fmt: skip


def _declined(payments: FakePayments, order_id: str) -> None:
    intent = payments.intent_for(f"order:{order_id}")
    subscribers.on_payment_failed(
        PaymentFailed(
            aggregate_id=str(intent["intent_id"]), intent_id=intent["intent_id"],
            reference=intent["reference"], amount=intent["amount"], currency="eur",
            error_code="card_declined", decline_code="insufficient_funds",
        )
    )  # fmt: skip


def _frames(order_id: str) -> list[dict[str, Any]]:
    replay = store().since(f"order:{order_id}", 0, None, cap=100)
    return [json.loads(frame)["data"] for _, frame in replay.entries]


def test_an_order_completes_once_the_buyer_confirms_the_payment(
    as_user: Any, payments: FakePayments
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))

    with captured_events() as events:
        placed = _place(buyer, category.pk)
        awaiting = _get(buyer, placed["id"])
        _authorized(payments, placed["id"])
    done = _get(buyer, placed["id"])

    assert (placed["status"], placed["payment"], placed["stream"]) == (
        "placed", None, f"order:{placed['id']}",
    )  # fmt: skip
    assert (awaiting["status"], awaiting["saga_state"]) == ("awaiting_payment", "waiting")
    assert awaiting["payment"]["client_secret"].startswith("pi_")
    assert awaiting["amount_cents"] == 10000
    assert (done["status"], done["saga_state"], done["reason"]) == ("completed", "completed", "")
    assert done["payment"] == {
        "intent_id": awaiting["payment"]["intent_id"], "status": "succeeded", "client_secret": None,
    }  # fmt: skip
    assert len(done["ticket_ids"]) == 2
    assert Ticket.objects.filter(status="valid", order_ref=placed["id"]).count() == 2
    assert sum(payments.captures.values()) == 1
    assert selectors.category_available(category_id=category.pk) == 8
    kinds = [type(event) for event in events if type(event) in (OrderPlaced, OrderCompleted)]
    assert kinds == [OrderPlaced, OrderCompleted]
    assert [f["status"] for f in _frames(placed["id"])] == [
        "placed", "awaiting_payment", "authorized", "paid", "completed",
    ]  # fmt: skip
    assert _frames(placed["id"])[-1]["ticket_ids"] == done["ticket_ids"]


def test_a_saved_payment_method_completes_without_the_app_confirming(
    as_user: Any, payments: FakePayments
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))

    placed = _place(buyer, category.pk, 1, payment_method="pm_card_visa")

    assert _get(buyer, placed["id"])["status"] == "completed"
    assert sum(payments.captures.values()) == 1


def test_a_saved_method_declined_at_once_cancels_the_order_and_releases_the_seats(
    as_user: Any, payments: FakePayments
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))

    with captured_events() as events:
        placed = _place(buyer, category.pk, 3, payment_method=DECLINED_METHOD)
    order = _get(buyer, placed["id"])

    assert (order["status"], order["reason"], order["saga_state"]) == (
        "cancelled", "declined", "compensated",
    )  # fmt: skip
    assert selectors.category_available(category_id=category.pk) == 10
    assert Hold.objects.get().status == "released"
    cancelled = [e for e in events if isinstance(e, OrderCancelled)]
    assert [(e.order_id, e.reason) for e in cancelled] == [(placed["id"], "declined")]


def test_a_declined_confirmation_cancels_the_payment_and_releases_the_seats(
    as_user: Any, payments: FakePayments
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))
    placed = _place(buyer, category.pk)

    _declined(payments, placed["id"])
    _authorized(payments, placed["id"], confirm=False)  # a late, contradicting event: ignored

    order = _get(buyer, placed["id"])
    intent = payments.intent_for(f"order:{placed['id']}")
    assert (order["status"], order["reason"]) == ("cancelled", "declined")
    assert intent["status"] == "canceled"
    assert sum(payments.captures.values()) == 0
    assert payments.kept(intent["intent_id"]) == 0
    assert selectors.category_available(category_id=category.pk) == 10
    statuses = [f["status"] for f in _frames(placed["id"])]
    assert statuses == ["placed", "awaiting_payment", "cancelling", "cancelled"]


def test_the_buyer_cancels_while_the_payment_awaits_confirmation(
    as_user: Any, payments: FakePayments
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))
    placed = _place(buyer, category.pk)

    answer = buyer.call("post", f"/orders/{placed['id']}/cancel")
    again = buyer.call("post", f"/orders/{placed['id']}/cancel")

    assert answer.status_code == 200, answer.content
    assert again.status_code == 200
    order = _get(buyer, placed["id"])
    assert (order["status"], order["reason"]) == ("cancelled", "cancelled")
    assert payments.intent_for(f"order:{placed['id']}")["status"] == "canceled"
    assert selectors.category_available(category_id=category.pk) == 10


def test_a_completed_order_cannot_be_cancelled_and_another_buyers_is_not_found(
    as_user: Any, payments: FakePayments
) -> None:
    buyer, other = as_user(5), as_user(6)
    category = factories.category_of(factories.show(capacity=10))
    placed = _place(buyer, category.pk, 1, payment_method="pm_card_visa")

    refused = buyer.call("post", f"/orders/{placed['id']}/cancel")
    hidden = other.call("post", f"/orders/{placed['id']}/cancel")
    unseen = other.call("get", f"/orders/{placed['id']}")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "order_not_cancellable"
    assert (hidden.status_code, unseen.status_code) == (404, 404)
    assert unseen.json()["error"]["code"] == "order_not_found"


def test_a_payment_not_confirmed_by_its_deadline_is_cancelled_and_the_seats_come_back(
    as_user: Any, payments: FakePayments
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))
    placed = _place(buyer, category.pk)

    sweep(now=timezone.now() + timedelta(seconds=481))

    order = _get(buyer, placed["id"])
    assert (order["status"], order["reason"]) == ("cancelled", "timeout")
    assert payments.intent_for(f"order:{placed['id']}")["status"] == "canceled"
    assert selectors.category_available(category_id=category.pk) == 10


def test_a_payment_landing_after_the_hold_expired_is_refunded(
    as_user: Any, payments: FakePayments
) -> None:
    """A later step's failure: the seats went back before the money arrived, so the capture is
    refunded — one capture, one refund, no ticket."""
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))
    placed = _place(buyer, category.pk)
    Hold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert holds.holds_expire() == 1

    _authorized(payments, placed["id"])

    order = _get(buyer, placed["id"])
    intent = payments.intent_for(f"order:{placed['id']}")
    assert (order["status"], order["reason"]) == ("cancelled", "hold_expired")
    assert sum(payments.captures.values()) == 1
    assert sum(payments.refunds.values()) == 1
    assert payments.kept(intent["intent_id"]) == 0
    assert not Ticket.objects.filter(status="valid").exists()
    assert saga_get(uuid.UUID(placed["id"])).state == "compensated"


def test_the_buyer_who_loses_the_race_for_the_last_seats_is_refused_when_placing(
    payments: FakePayments,
) -> None:
    """The seats are held as the order is placed: the second buyer is told sold out there and
    then, with no order, no saga and no payment; the first order's saga finds its hold."""
    category = factories.category_of(factories.show(capacity=3))
    first = orders.order_place(user_id=5, category_id=category.pk, quantity=3, idempotency_key="a")

    with pytest.raises(SoldOut) as refused:
        orders.order_place(user_id=6, category_id=category.pk, quantity=3, idempotency_key="b")

    first.refresh_from_db()
    assert refused.value.details == {"available": 0}
    assert (first.status, Order.objects.count(), len(payments.intents)) == (
        "awaiting_payment",
        1,
        1,
    )
    assert Hold.objects.get().pk == first.hold_id  # one hold: the saga's step found it
    found = selectors.hold_by_key(key=f"{first.pk}:hold")
    assert found is not None
    assert found.pk == first.hold_id


def test_an_order_placed_without_its_hold_is_held_by_its_saga(payments: FakePayments) -> None:
    """An order placed before holds moved to placement (in flight over that deploy) has no
    hold: its saga's first step places it, and a buyer past the last seat is cancelled there."""
    category = factories.category_of(factories.show(capacity=3))
    placed = []
    with transaction.atomic():
        for user_id in (5, 6):
            order = Order.objects.create(
                user_id=user_id, category=category, quantity=3, amount_cents=1,
                currency="EUR", idempotency_key=str(user_id),
            )  # fmt: skip
            saga_start(orders.PURCHASE, input={"order_id": str(order.pk)}, saga_id=order.pk)
            placed.append(order)

    for order in placed:
        order.refresh_from_db()
    assert [(o.status, o.reason) for o in placed] == [
        ("awaiting_payment", ""),
        ("cancelled", "sold_out"),
    ]
    assert Hold.objects.get().pk == placed[0].hold_id
    assert len(payments.intents) == 1


def test_placing_is_idempotent_by_its_required_key(as_user: Any, payments: FakePayments) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))
    body = {"category_id": category.pk, "quantity": 2}

    missing = buyer.call("post", "/orders", body)
    first = buyer.call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY="buy-1")
    again = buyer.call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY="buy-1")
    other = buyer.call("post", "/orders", {**body, "quantity": 3}, HTTP_IDEMPOTENCY_KEY="buy-1")

    assert missing.status_code == 422
    assert missing.json()["error"]["code"] == "idempotency_key_required"
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert Order.objects.count() == 1
    assert len(payments.intents) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"quantity": 11}, 422, "too_many_seats"),
        ({"quantity": 4}, 409, "sold_out"),
        ({"category_id": 999_999}, 404, "category_not_found"),
        ({"quantity": 0}, 422, "validation_error"),
    ],
)
def test_an_order_that_cannot_be_placed_says_why(
    as_user: Any, payments: FakePayments, body: dict[str, Any], status: int, code: str
) -> None:
    category = factories.category_of(factories.show(capacity=3))
    answer = as_user(5).call(
        "post", "/orders", {"category_id": category.pk, "quantity": 1, **body},
        HTTP_IDEMPOTENCY_KEY="k",
    )  # fmt: skip
    assert answer.status_code == status, answer.content
    assert answer.json()["error"]["code"] == code
    assert not Order.objects.exists()


def test_orders_are_listed_newest_first_a_page_at_a_time(
    as_user: Any, payments: FakePayments, django_assert_max_num_queries: Any
) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=20))
    placed = [_place(buyer, category.pk, 1)["id"] for _ in range(3)]
    _place(as_user(6), category.pk, 1)

    with django_assert_max_num_queries(2):
        first = buyer.call("get", "/orders?limit=2").json()
    rest = buyer.call("get", f"/orders?limit=2&cursor={first['next_cursor']}").json()

    assert [o["id"] for o in first["items"] + rest["items"]] == placed[::-1]
    assert rest["next_cursor"] is None
    assert first["items"][0]["status"] == "awaiting_payment"


def test_an_order_stream_is_joined_by_and_readable_by_its_buyer_only(
    as_user: Any, payments: FakePayments
) -> None:
    category = factories.category_of(factories.show(capacity=10))
    mine = _place(as_user(5), category.pk, 1)["stream"]
    theirs = _place(as_user(6), category.pk, 1)["stream"]
    buyer = Principal(user_id=5, session_id="s", roles=frozenset({"user"}), expires_at=0)

    readable = realtime._order_readable(buyer, [mine, theirs, "order:nonsense", "order:"])

    assert readable == {mine}
    assert realtime._order_initial(buyer) == [mine]
    # The buyer's live sockets were told to join the stream when the order was placed.
    told = store().since("user:5", 0, None, cap=100).entries
    joined = [json.loads(frame)["data"] for _, frame in told]
    assert {"stream": mine} in joined
