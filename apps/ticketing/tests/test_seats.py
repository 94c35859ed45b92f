"""Numbered seats: a category laid out as seats (capacity == seats), its seat map, holds that get
the best free seats or those the buyer names (refused clearly when taken or not the
category's), seats freed when a hold ends unsold or a ticket is voided, and tickets that carry
their seat (the API, the event, the signed token). The counters stay equal to holds + tickets.
Races: test_seats_race.py (PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import (
    CategoryInUse,
    OrderKeyReused,
    SeatLayoutInvalid,
    SeatTaken,
)
from apps.ticketing.models import CategoryShard, Hold, Order, Seat, SeatCategory
from apps.ticketing.services import holds, orders, shows, tickets
from apps.ticketing.services import seats as seating
from apps.ticketing.services.seats import seat_grid
from apps.ticketing.tests import factories
from apps.ticketing.tokens import token_verify
from cleave.events import captured_events
from contracts.ticketing import TicketIssued

pytestmark = pytest.mark.django_db(transaction=True)


def _seat_ids(category: SeatCategory, *labels: str) -> list[int]:
    """Seat ids by label ("A1", "B3")."""
    by_label = {f"{s.row}{s.number}": s.pk for s in Seat.objects.filter(category=category)}
    return [by_label[label] for label in labels]


def _labels(seats: list[dict[str, Any]]) -> list[str]:
    return [f"{seat['row']}{seat['number']}" for seat in seats]


def _hold(buyer: Any, category: SeatCategory, quantity: int, **extra: Any) -> Any:
    return buyer.call("post", "/holds", {"category_id": category.pk, "quantity": quantity, **extra})


# --- Layout ------------------------------------------------------------------------------------
def test_a_numbered_category_has_one_seat_per_place_of_its_layout_and_that_capacity() -> None:
    category = factories.category_of(factories.numbered_show(rows="ABC", per_row=4, shard_count=5))

    assert category.numbered
    assert category.capacity == 12 == Seat.objects.filter(category=category).count()
    assert sum(CategoryShard.objects.filter(category=category).values_list("capacity", flat=True))
    assert sum(s.capacity for s in CategoryShard.objects.filter(category=category)) == 12
    best = Seat.objects.filter(category=category).order_by("position")[:5]
    assert [f"{s.row}{s.number}" for s in best] == ["A1", "A2", "A3", "A4", "B1"]


@pytest.mark.parametrize(
    ("seats", "capacity", "reason"),
    [
        ([], None, "empty"),
        ([("A", 1), ("A", 1)], None, "duplicate_seat"),
        ([("A", 1), (" ", 2)], None, "bad_row"),
        ([("TOOLONGROW", 1)], None, "bad_row"),
        ([("A", 0)], None, "bad_number"),
        (seat_grid(rows=["A"], per_row=3), 4, "capacity_mismatch"),
    ],
)
def test_a_layout_that_cannot_be_is_refused_with_its_reason(
    seats: list[tuple[str, int]], capacity: int | None, reason: str
) -> None:
    show = factories.show(publish=False)
    with pytest.raises(SeatLayoutInvalid) as refused:
        shows.category_add(
            show_id=show.pk, name="Stalls", price_cents=1, seats=seats, capacity=capacity
        )
    assert refused.value.details["reason"] == reason
    assert refused.value.code == "seat_layout_invalid"
    assert reason in refused.value.message
    assert not SeatCategory.objects.filter(name="Stalls").exists()


def test_a_draft_categorys_seats_are_laid_out_anew_but_not_once_on_sale() -> None:
    show = factories.show(publish=False, capacity=100)
    category = factories.category_of(show)

    shows.category_seats_set(category_id=category.pk, seats=seat_grid(rows="AB", per_row=3))
    category.refresh_from_db()
    assert (category.numbered, category.capacity) == (True, 6)
    assert CategoryShard.objects.filter(category=category).count() == 6  # one a seat at most
    assert selectors.category_available(category_id=category.pk) == 6

    shows.show_publish(show_id=show.pk)
    with pytest.raises(CategoryInUse):
        shows.category_seats_set(category_id=category.pk, seats=seat_grid(rows="A", per_row=2))
    assert Seat.objects.filter(category=category).count() == 6


# --- Seat map ----------------------------------------------------------------------------------
def test_the_seat_map_pages_seats_best_first_with_what_is_available(
    as_user: Any, django_assert_max_num_queries: Any
) -> None:
    buyer = as_user(5)
    show = factories.numbered_show(rows="AB", per_row=3)
    category = factories.category_of(show)
    holds.hold_place(user_id=9, category_id=category.pk, quantity=2)
    path = f"/shows/{show.pk}/categories/{category.pk}/seats"

    with django_assert_max_num_queries(3):  # the show, the category, the page
        first = buyer.call("get", f"{path}?limit=4").json()
    second = buyer.call("get", f"{path}?limit=4&cursor={first['next_cursor']}").json()

    seats = first["items"] + second["items"]
    assert _labels(seats) == ["A1", "A2", "A3", "B1", "B2", "B3"]
    assert [seat["available"] for seat in seats] == [False, False, True, True, True, True]
    assert set(seats[0]) == {"id", "row", "number", "available"}
    assert second["next_cursor"] is None
    detail = buyer.call("get", f"/shows/{show.pk}").json()
    assert detail["categories"][0]["numbered"] is True
    assert detail["categories"][0]["available"] == 4


def test_the_seat_map_of_another_shows_category_is_not_found(as_user: Any) -> None:
    show, other = factories.numbered_show(), factories.numbered_show()
    category = factories.category_of(other)
    answer = as_user(5).call("get", f"/shows/{show.pk}/categories/{category.pk}/seats")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "category_not_found"


# --- Holds -------------------------------------------------------------------------------------
def test_a_hold_without_seats_named_gets_the_best_free_ones(as_user: Any) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.numbered_show(rows="AB", per_row=3))

    first = _hold(buyer, category, 2)
    second = _hold(buyer, category, 2)

    assert first.status_code == 201, first.content
    assert _labels(first.json()["seats"]) == ["A1", "A2"]
    assert _labels(second.json()["seats"]) == ["A3", "B1"]
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_hold_gets_the_seats_its_buyer_names_and_another_buyer_cannot(as_user: Any) -> None:
    buyer, other = as_user(5), as_user(6)
    category = factories.category_of(factories.numbered_show(rows="AB", per_row=3))
    wanted = _seat_ids(category, "B2", "B3")

    held = _hold(buyer, category, 2, seat_ids=wanted)
    refused = _hold(other, category, 2, seat_ids=_seat_ids(category, "B1", "B2"))

    assert held.status_code == 201, held.content
    assert _labels(held.json()["seats"]) == ["B2", "B3"]
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "seat_taken"
    assert refused.json()["error"]["details"] == {"seat_ids": [wanted[0]]}
    assert Hold.objects.count() == 1
    assert selectors.category_available(category_id=category.pk) == 4
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_named_seats_must_be_the_categorys_and_as_many_as_the_quantity(as_user: Any) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.numbered_show())
    elsewhere = _seat_ids(factories.category_of(factories.numbered_show()), "A1")
    general = factories.category_of(factories.show(capacity=5))
    a1, a2 = _seat_ids(category, "A1", "A2")

    foreign = _hold(buyer, category, 1, seat_ids=elsewhere)
    mismatch = _hold(buyer, category, 1, seat_ids=[a1, a2])
    twice = _hold(buyer, category, 2, seat_ids=[a1, a1])
    unnumbered = _hold(buyer, general, 1, seat_ids=[a1])

    assert foreign.status_code == 422
    error = foreign.json()["error"]
    assert (error["code"], error["details"]) == ("seat_not_in_category", {"seat_ids": elsewhere})
    assert error["message"] == "Some of the seats named are not in this category."
    assert mismatch.json()["error"]["code"] == "seat_count_mismatch"
    assert mismatch.json()["error"]["message"] == "Name 1 different seats, or none."
    assert twice.json()["error"]["code"] == "seat_count_mismatch"
    assert unnumbered.json()["error"]["code"] == "seat_not_in_category"
    assert not Hold.objects.exists()


def test_a_released_hold_frees_its_seats_for_the_next_buyer(as_user: Any) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.numbered_show(rows="A", per_row=2))
    hold = _hold(buyer, category, 2).json()
    assert _hold(buyer, category, 1).json()["error"]["code"] == "sold_out"

    released = buyer.call("delete", f"/holds/{hold['id']}").json()

    assert (released["status"], released["seats"]) == ("released", [])
    assert not Seat.objects.filter(category=category).exclude(hold=None).exists()
    assert _labels(_hold(buyer, category, 2).json()["seats"]) == ["A1", "A2"]
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_seat_in_an_expired_hold_goes_to_whoever_names_it_and_the_sweeper_frees_the_rest() -> (
    None
):
    category = factories.category_of(factories.numbered_show(rows="A", per_row=3))
    stale = holds.hold_place(user_id=1, category_id=category.pk, quantity=2)  # A1, A2
    Hold.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    a2 = _seat_ids(category, "A2")

    fresh = holds.hold_place(user_id=2, category_id=category.pk, quantity=1, seat_ids=a2)

    assert Hold.objects.get(pk=stale.pk).status == "expired"
    assert [s.pk for s in selectors.seats_of_hold(hold_id=fresh.pk)] == a2
    assert Seat.objects.filter(category=category, hold=None).count() == 2
    Hold.objects.filter(pk=fresh.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert holds.holds_expire() == 1
    assert Seat.objects.filter(category=category, hold=None).count() == 3
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_named_seat_taken_since_the_early_check_is_refused_under_the_holds_lock() -> None:
    """The check before the hold reads without locks; the hold's own seat lock decides (what
    a buyer who checked just before another held the seat meets)."""
    category = factories.category_of(factories.numbered_show(rows="A", per_row=2))
    a1 = _seat_ids(category, "A1")
    first = holds.hold_place(user_id=1, category_id=category.pk, quantity=1, seat_ids=a1)

    with pytest.raises(SeatTaken) as refused, transaction.atomic():
        seating.seats_take(hold_id=first.pk, category_id=category.pk, quantity=1, seat_ids=a1)

    assert refused.value.details == {"seat_ids": a1}
    assert [s.pk for s in selectors.seats_of_hold(hold_id=first.pk)] == a1


# --- Tickets -----------------------------------------------------------------------------------
def test_tickets_carry_their_seats_in_the_api_the_event_and_the_signed_token(as_user: Any) -> None:
    buyer = as_user(7)
    show = factories.numbered_show(rows="AB", per_row=2)
    category = factories.category_of(show)
    hold = holds.hold_place(user_id=7, category_id=category.pk, quantity=2)

    with captured_events() as events:
        issued = tickets.tickets_issue(hold_id=hold.pk, order_ref="order-1")

    assert sorted(f"{t.seat.row}{t.seat.number}" for t in issued if t.seat) == ["A1", "A2"]
    wire = [TicketIssued.model_validate_json(e.model_dump_json()) for e in events]
    assert sorted((e.seat_row, e.seat_number) for e in wire) == [("A", 1), ("A", 2)]
    items = buyer.call("get", "/tickets").json()["items"]
    assert sorted(_labels([item["seat"] for item in items])) == ["A1", "A2"]
    claims = [token_verify(item["token"], public_key=show.public_key) for item in items]
    assert sorted((c.seat_row, c.seat_number) for c in claims) == [("A", 1), ("A", 2)]
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_voided_tickets_seat_is_on_sale_again_and_sold_once_more() -> None:
    category = factories.category_of(factories.numbered_show(rows="A", per_row=1))
    first = holds.hold_place(user_id=1, category_id=category.pk, quantity=1)
    tickets.tickets_issue(hold_id=first.pk)

    assert tickets.tickets_void(hold_id=first.pk) == 1
    again = holds.hold_place(user_id=2, category_id=category.pk, quantity=1)
    resold = tickets.tickets_issue(hold_id=again.pk)

    assert [t.seat_id for t in resold] == _seat_ids(category, "A1")
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_the_invariant_check_reports_a_seat_kept_by_a_hold_that_ended() -> None:
    category = factories.category_of(factories.numbered_show(rows="A", per_row=2))
    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=1)
    holds.hold_release(hold_id=hold.pk)
    Seat.objects.filter(pk=_seat_ids(category, "A1")[0]).update(hold=hold)  # a bug's trace

    problems = selectors.invariant_violations(category_id=category.pk)

    assert any("kept by released hold" in problem for problem in problems), problems


# --- Orders ------------------------------------------------------------------------------------
@pytest.fixture
def _sagas_in_process(settings: Any) -> None:
    settings.CLEAVE_EVENTS_INPROCESS = True  # as test_orders.py: the saga runs on commit


@pytest.mark.usefixtures("_sagas_in_process")
def test_an_order_for_named_seats_buys_those_seats(as_user: Any, payments: Any) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.numbered_show(rows="AB", per_row=3))
    wanted = _seat_ids(category, "B1", "B2")
    body = {"category_id": category.pk, "quantity": 2, "seat_ids": wanted,
            "payment_method": "pm_card_visa"}  # fmt: skip

    placed = buyer.call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY="o-1")
    taken = as_user(6).call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY="o-2")

    assert placed.status_code == 201, placed.content
    done = buyer.call("get", f"/orders/{placed.json()['id']}").json()
    assert (done["status"], sorted(done["seat_ids"])) == ("completed", sorted(wanted))
    items = buyer.call("get", "/tickets").json()["items"]
    assert sorted(_labels([item["seat"] for item in items])) == ["B1", "B2"]
    with pytest.raises(OrderKeyReused):  # the key with other seats (the service's own check)
        orders.order_place(
            user_id=5, category_id=category.pk, quantity=2, idempotency_key="o-1",
            payment_method="pm_card_visa", seat_ids=_seat_ids(category, "A1", "A2"),
        )  # fmt: skip
    assert (taken.status_code, taken.json()["error"]["code"]) == (409, "seat_taken")
    assert selectors.invariant_violations(category_id=category.pk) == []


@pytest.mark.usefixtures("_sagas_in_process")
def test_the_second_order_for_a_named_seat_is_refused_as_seat_taken(
    as_user: Any, payments: Any
) -> None:
    """Placing holds the named seats: a second buyer naming one of them is refused there and
    then (409 seat_taken, the reason the app acts on: pick other seats), with no order."""
    first, second = as_user(5), as_user(6)
    category = factories.category_of(factories.numbered_show(rows="A", per_row=3))
    body = {"category_id": category.pk, "quantity": 1, "seat_ids": _seat_ids(category, "A1")}

    placed = first.call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY="k")
    refused = second.call("post", "/orders", body, HTTP_IDEMPOTENCY_KEY="k")

    assert placed.status_code == 201, placed.content
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "seat_taken"
    assert Order.objects.filter(user_id=6).count() == 0
    assert selectors.invariant_violations(category_id=category.pk) == []
