"""Where a hold's seats came from: the one shard named on the hold (the rule, and the on-sale's
lean write), or HoldAllocation rows when it took them from several — and holds written before
the hold named its shard, which have allocations only. Releasing, expiring and converting give
each shard back exactly what the hold took from it, whichever the shape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.models import CategoryShard, Hold, HoldAllocation, Ticket
from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def _held(category_id: int) -> dict[int, int]:
    shards = CategoryShard.objects.filter(category_id=category_id, held__gt=0)
    return dict(shards.values_list("pk", "held"))


def _shard_of(hold: Hold) -> int:
    assert hold.shard_id is not None, f"{hold} names no shard"
    return hold.shard_id


def test_a_hold_from_one_shard_names_it_and_writes_no_allocation() -> None:
    category = factories.category_of(factories.show(capacity=40, shard_count=4))

    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=3)

    stored = Hold.objects.get(pk=hold.pk)
    assert stored.shard_id == hold.shard_id
    assert CategoryShard.objects.get(pk=_shard_of(stored)).category_id == category.pk
    assert not HoldAllocation.objects.filter(hold_id=hold.pk).exists()
    assert _held(category.pk) == {stored.shard_id: 3}
    assert selectors.hold_shares(hold=stored) == [(stored.shard_id, 3)]
    assert selectors.invariant_violations(category_id=category.pk) == []

    holds.hold_release(hold_id=hold.pk)

    assert _held(category.pk) == {}
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_hold_from_several_shards_names_none_and_lists_them_in_allocations() -> None:
    category = factories.category_of(factories.show(capacity=8, shard_count=4))  # 2 a shard

    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=5)

    stored = Hold.objects.get(pk=hold.pk)
    assert stored.shard_id is None
    shares = selectors.hold_shares(hold=stored)
    assert sum(seats for _, seats in shares) == 5
    assert len(shares) == 3
    assert dict(shares) == _held(category.pk)

    issued = tickets.tickets_issue(hold_id=hold.pk)

    per_shard = Ticket.objects.filter(hold_id=hold.pk).values("shard_id").annotate(n=Count("id"))
    assert len(issued) == 5
    assert {row["shard_id"]: row["n"] for row in per_shard} == dict(shares)
    assert _held(category.pk) == {}
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_holds_written_before_the_shard_was_named_give_their_seats_back_too() -> None:
    # Such a hold has a NULL shard and one allocation row (migration 0005 copies nothing).
    category = factories.category_of(factories.show(capacity=40, shard_count=4))
    placed = [holds.hold_place(user_id=n, category_id=category.pk, quantity=2) for n in (1, 2, 3)]
    for hold in placed:
        HoldAllocation.objects.create(hold_id=hold.pk, shard_id=_shard_of(hold), quantity=2)
        Hold.objects.filter(pk=hold.pk).update(shard=None)
    assert selectors.invariant_violations(category_id=category.pk) == []
    old_released, old_expired, old_sold = placed

    holds.hold_release(hold_id=old_released.pk)
    Hold.objects.filter(pk=old_expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert holds.holds_expire(category_id=category.pk) == 1
    assert len(tickets.tickets_issue(hold_id=old_sold.pk)) == 2

    assert _held(category.pk) == {}
    assert CategoryShard.objects.get(pk=_shard_of(old_sold)).sold == 2  # as placed
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_expiring_holds_of_both_shapes_together_gives_every_shard_its_seats_back() -> None:
    category = factories.category_of(factories.show(capacity=8, shard_count=4))
    single = holds.hold_place(user_id=1, category_id=category.pk, quantity=2)  # a whole shard
    spread = holds.hold_place(user_id=2, category_id=category.pk, quantity=3)  # from two more
    assert Hold.objects.get(pk=single.pk).shard_id is not None
    assert Hold.objects.get(pk=spread.pk).shard_id is None
    stale = timezone.now() - timedelta(seconds=1)
    Hold.objects.filter(pk__in=[single.pk, spread.pk]).update(expires_at=stale)

    assert holds.holds_expire(category_id=category.pk) == 2

    assert _held(category.pk) == {}
    assert selectors.category_available(category_id=category.pk) == 8
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_hold_naming_a_shard_that_does_not_exist_is_reported() -> None:
    # Hold.shard has no foreign-key check in the database (the hot path's statement takes the id
    # from the row it locked): the invariant check is what would tell.
    category = factories.category_of(factories.show(capacity=10, shard_count=2))
    hold = holds.hold_place(user_id=1, category_id=category.pk, quantity=1)
    assert selectors.invariant_violations(category_id=category.pk) == []
    missing = CategoryShard.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000
    Hold.objects.filter(pk=hold.pk).update(shard_id=missing)

    problems = selectors.invariant_violations(category_id=category.pk)

    assert f"live holds name shards that do not exist: [{missing}]" in problems
