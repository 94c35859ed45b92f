"""Holds: seats reserved until they expire, released, or converted into tickets; every step
idempotent for the purchase saga; never more seats held and sold than the category has."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import HoldKeyReused, HoldNotActive, SoldOut
from apps.ticketing.models import CategoryShard, Hold, Ticket
from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories
from cleave.events import captured_events
from contracts.ticketing import TicketIssued

pytestmark = pytest.mark.django_db(transaction=True)


def _expire_now(hold: Hold) -> None:
    Hold.objects.filter(pk=hold.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_a_hold_through_the_api_is_idempotent_by_its_key(as_user: Any) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=10))
    body = {"category_id": category.pk, "quantity": 2}

    first = buyer.call("post", "/holds", body, HTTP_IDEMPOTENCY_KEY="k-1")
    again = buyer.call("post", "/holds", body, HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == 201, first.content
    assert again.json() == first.json()
    assert first.json()["status"] == "active"
    assert Hold.objects.count() == 1
    assert selectors.category_available(category_id=category.pk) == 8


def test_asking_for_more_seats_than_left_is_sold_out_with_what_is_left(as_user: Any) -> None:
    buyer = as_user(5)
    category = factories.category_of(factories.show(capacity=3))
    answer = buyer.call("post", "/holds", {"category_id": category.pk, "quantity": 4})
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "sold_out"
    assert answer.json()["error"]["details"] == {"available": 3}


def test_a_buyer_after_the_last_seat_is_answered_by_one_read_of_the_counters() -> None:
    category = factories.category_of(factories.show(capacity=4, shard_count=2))
    holds.hold_place(user_id=1, category_id=category.pk, quantity=4)

    with CaptureQueriesContext(connections[holds.DB]) as queries, pytest.raises(SoldOut) as out:
        holds.hold_place(user_id=2, category_id=category.pk, quantity=1)

    assert out.value.details == {"available": 0}
    statements = [query["sql"] for query in queries.captured_queries]
    # The category (with its show), then the counters: no walk, no write, no sweep.
    assert len(statements) == 2, statements
    assert not any(word in sql.upper() for sql in statements for word in ("UPDATE", "INSERT"))
    assert Hold.objects.count() == 1


def test_a_hold_on_a_draft_show_is_refused(as_user: Any) -> None:
    category = factories.category_of(factories.show(publish=False))
    answer = as_user(5).call("post", "/holds", {"category_id": category.pk, "quantity": 1})
    assert answer.json()["error"]["code"] == "show_not_on_sale"


def test_deleting_a_hold_gives_its_seats_back_and_only_its_owner_can(as_user: Any) -> None:
    buyer, other = as_user(5), as_user(6)
    category = factories.category_of(factories.show(capacity=4))
    hold = buyer.call("post", "/holds", {"category_id": category.pk, "quantity": 4}).json()

    stolen = other.call("delete", f"/holds/{hold['id']}")
    released = buyer.call("delete", f"/holds/{hold['id']}")
    again = buyer.call("delete", f"/holds/{hold['id']}")

    assert stolen.status_code == 404
    assert released.json()["status"] == "released"
    assert again.json()["status"] == "released"
    assert selectors.category_available(category_id=category.pk) == 4
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_hold_takes_seats_from_several_shards_when_no_single_one_has_enough() -> None:
    category = factories.category_of(factories.show(capacity=8, shard_count=4))  # 2 a shard
    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=7)
    assert sum(a.quantity for a in hold.allocations.all()) == 7
    assert len(hold.allocations.all()) == 4
    with pytest.raises(SoldOut):
        holds.hold_place(user_id=2, category_id=category.pk, quantity=2)
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_the_same_key_returns_the_first_hold_and_refuses_another_request() -> None:
    category = factories.category_of(factories.show(capacity=10))
    first = holds.hold_place(user_id=1, category_id=category.pk, quantity=2, key="saga-9:hold")
    again = holds.hold_place(user_id=1, category_id=category.pk, quantity=2, key="saga-9:hold")
    assert again.pk == first.pk
    with pytest.raises(HoldKeyReused):
        holds.hold_place(user_id=1, category_id=category.pk, quantity=3, key="saga-9:hold")
    assert selectors.category_available(category_id=category.pk) == 8


def test_a_keyed_hold_takes_its_id_from_the_key_and_writes_no_key_column() -> None:
    category = factories.category_of(factories.show(capacity=10))
    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=1, key="saga-3:hold")
    assert (
        hold.pk
        == Hold.id_for_key("saga-3:hold")
        == uuid.uuid5(uuid.UUID("ba78a0e1-2788-4a93-a784-24513afca3a8"), "saga-3:hold")
    )  # the namespace is fixed: a saga retrying its step after a deploy must find its hold
    assert Hold.objects.get(pk=hold.pk).key is None
    assert Hold.id_for_key("saga-4:hold") != hold.pk
    assert selectors.hold_by_key(key="saga-3:hold") == hold
    assert selectors.hold_by_key(key="saga-4:hold") is None


def test_a_hold_placed_before_keys_named_ids_is_still_found_by_its_key() -> None:
    # Placed before 2026-12-07: a random id, the key in its column.
    category = factories.category_of(factories.show(capacity=10))
    placed = holds.hold_place(user_id=1, category_id=category.pk, quantity=2)
    Hold.objects.filter(pk=placed.pk).update(key="saga-old:hold")

    again = holds.hold_place(user_id=1, category_id=category.pk, quantity=2, key="saga-old:hold")

    assert again.pk == placed.pk
    assert selectors.hold_by_key(key="saga-old:hold") == placed
    assert Hold.objects.count() == 1
    assert selectors.category_available(category_id=category.pk) == 8
    with pytest.raises(HoldKeyReused):
        holds.hold_place(user_id=2, category_id=category.pk, quantity=2, key="saga-old:hold")


def test_expired_holds_never_count_and_the_sweeper_gives_their_seats_back() -> None:
    category = factories.category_of(factories.show(capacity=2))
    stale = holds.hold_place(user_id=1, category_id=category.pk, quantity=2)
    _expire_now(stale)

    # Shown as free at once, and a buyer gets the seats before any sweep ran.
    assert selectors.category_available(category_id=category.pk) == 2
    fresh = holds.hold_place(user_id=2, category_id=category.pk, quantity=2)
    assert Hold.objects.get(pk=stale.pk).status == "expired"

    _expire_now(fresh)
    assert holds.holds_expire() == 1
    assert holds.holds_expire() == 0
    assert CategoryShard.objects.filter(category=category, held__gt=0).count() == 0
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_converting_a_hold_issues_one_ticket_a_seat_once() -> None:
    category = factories.category_of(factories.show(capacity=5))
    hold = holds.hold_place(user_id=3, category_id=category.pk, quantity=2)

    with captured_events() as events:
        issued = tickets.tickets_issue(hold_id=hold.pk, order_ref="order-1")
        again = tickets.tickets_issue(hold_id=hold.pk, order_ref="order-1")

    assert sorted(t.pk for t in again) == sorted(t.pk for t in issued)
    assert len(issued) == 2
    assert all(t.user_id == 3 for t in issued)
    wire = [TicketIssued.model_validate_json(e.model_dump_json()) for e in events]
    assert sorted(e.ticket_id for e in wire) == sorted(str(t.pk) for t in issued)
    assert Hold.objects.get(pk=hold.pk).status == "converted"
    assert selectors.category_available(category_id=category.pk) == 3
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_released_hold_cannot_be_converted_and_voiding_is_idempotent() -> None:
    category = factories.category_of(factories.show(capacity=5))
    released = holds.hold_place(user_id=3, category_id=category.pk, quantity=1)
    holds.hold_release(hold_id=released.pk)
    with pytest.raises(HoldNotActive):
        tickets.tickets_issue(hold_id=released.pk)

    sold = holds.hold_place(user_id=3, category_id=category.pk, quantity=2)
    tickets.tickets_issue(hold_id=sold.pk)
    assert tickets.tickets_void(hold_id=sold.pk) == 2
    assert tickets.tickets_void(hold_id=sold.pk) == 0
    assert set(Ticket.objects.values_list("status", flat=True)) == {"void"}
    assert selectors.category_available(category_id=category.pk) == 5
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_hold_past_expiry_not_yet_swept_can_still_be_converted() -> None:
    """The saga's payment may land seconds after the expiry: the seats were never given away."""
    category = factories.category_of(factories.show(capacity=1))
    hold = holds.hold_place(user_id=3, category_id=category.pk, quantity=1)
    _expire_now(hold)
    assert len(tickets.tickets_issue(hold_id=hold.pk)) == 1


def test_an_unknown_hold_is_not_found(as_user: Any) -> None:
    answer = as_user(1).call("delete", f"/holds/{uuid.uuid4()}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "hold_not_found"


def test_a_hold_is_placed_with_the_query_log_on(settings: Any) -> None:
    """DEBUG (embedded mode's default, `make run`) logs every query with its parameters."""
    settings.DEBUG = True
    category = factories.category_of(factories.show(capacity=3))
    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=2)
    assert selectors.category_available(category_id=category.pk) == 1
    assert Hold.objects.get(pk=hold.pk).status == "active"


def test_celery_beat_runs_the_hold_sweeper_which_expires_every_stale_hold() -> None:
    from apps.ticketing.tasks import HOLDS_EXPIRE_TASK, holds_expire
    from cleave.celery import app

    entry = app.conf.beat_schedule["ticketing-holds-expire"]
    assert entry["task"] == HOLDS_EXPIRE_TASK
    category = factories.category_of(factories.show(capacity=5))
    stale = [holds.hold_place(user_id=n, category_id=category.pk, quantity=1) for n in (1, 2)]
    live = holds.hold_place(user_id=3, category_id=category.pk, quantity=1)
    for hold in stale:
        _expire_now(hold)

    assert holds_expire.apply().get() == 2

    assert sorted(Hold.objects.values_list("status", flat=True)) == ["active", "expired", "expired"]
    assert Hold.objects.get(pk=live.pk).status == "active"
    assert selectors.invariant_violations(category_id=category.pk) == []
