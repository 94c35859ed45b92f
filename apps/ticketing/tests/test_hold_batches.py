"""Holds written in batches (services.hold_batches): real mode only (PostgreSQL and Redis).
Buyers racing are held by batches, the counters always equal the holds, and a buyer whose
batch never answers writes its hold alone, once."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection, connections
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.ticketing import selectors
from apps.ticketing.models import CategoryShard, Hold
from apps.ticketing.services import hold_batches, holds
from apps.ticketing.tests import factories

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not django_settings.CONFIG.redis_url,
        reason="batches need PostgreSQL and Redis (real mode)",
    ),
]


def _request(user_id: int, quantity: int = 1, *, age: float = 0.0) -> hold_batches.Request:
    now = timezone.now() - timedelta(seconds=age)
    return hold_batches.Request(uuid.uuid4(), user_id, quantity, now + timedelta(minutes=10), now)


def _fallbacks(reason: str) -> float:
    """cleave_ticketing_hold_batch_fallbacks_total{reason} as /metrics exports it."""
    value = REGISTRY.get_sample_value(
        "cleave_ticketing_hold_batch_fallbacks_total", {"reason": reason}
    )
    return value or 0.0


def _held(category_id: int) -> int:
    return sum(CategoryShard.objects.filter(category_id=category_id).values_list("held", flat=True))


def test_a_batch_holds_many_buyers_in_one_statement_on_one_shard() -> None:
    category = factories.category_of(factories.show(capacity=100, shard_count=4))
    requests = [_request(user, quantity=1 + user % 3) for user in range(1, 9)]
    before = hold_batches.written().statements

    answers = hold_batches.write_batch(category_id=category.pk, shards=4, requests=requests)

    assert hold_batches.written().statements == before + 1
    assert len(set(answers.values())) == 1  # one shard, room enough for all (25 seats each)
    written = Hold.objects.filter(category_id=category.pk)
    assert {h.pk for h in written} == {r.hold_id for r in requests}
    assert _held(category.pk) == sum(r.quantity for r in requests)
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_batch_bigger_than_a_shard_is_split_over_shards_and_the_rest_written_alone() -> None:
    category = factories.category_of(factories.show(capacity=8, shard_count=4))  # 2 a shard
    requests = [_request(user) for user in range(1, 12)]
    no_room = _fallbacks("no_room")

    answers = hold_batches.write_batch(category_id=category.pk, shards=4, requests=requests)

    shards = [answers[r.hold_id] for r in requests[:8]]
    assert sorted(shards.count(shard) for shard in set(shards)) == [2, 2, 2, 2]
    assert [answers[r.hold_id] for r in requests[8:]] == [hold_batches.ALONE] * 3
    assert _fallbacks("no_room") == no_room + 3
    assert _held(category.pk) == 8
    assert Hold.objects.filter(category_id=category.pk).count() == 8
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_hold_already_written_alone_is_skipped_and_its_seats_not_taken_twice() -> None:
    category = factories.category_of(factories.show(capacity=100, shard_count=4))
    alone = holds.hold_place(user_id=1, category_id=category.pk, quantity=2)
    again = hold_batches.Request(alone.pk, 1, 2, alone.expires_at, alone.created_at)
    other = _request(2, quantity=3)

    answers = hold_batches.write_batch(category_id=category.pk, shards=4, requests=[again, other])

    assert answers[alone.pk] == hold_batches.EXISTS
    assert answers[other.hold_id] not in (hold_batches.EXISTS, hold_batches.ALONE)
    assert _held(category.pk) == 5
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_buyers_racing_are_held_in_batches_and_never_oversold(settings: Any) -> None:
    settings.CLEAVE_TICKETING_HOLD_BATCH_FROM = 3  # 16 buyers over 4 lanes: 4 a lane
    capacity, buyers = 150, 200
    category = factories.category_of(factories.show(capacity=capacity, shard_count=8))
    start = threading.Barrier(16)
    before = (hold_batches.written().statements, hold_batches.written().holds)

    def buy(first: int) -> list[bool]:
        start.wait()
        won = []
        try:
            for user in range(first, buyers, 16):
                try:
                    holds.hold_place(user_id=user + 1, category_id=category.pk, quantity=1)
                    won.append(True)
                except holds.SoldOut:
                    won.append(False)
        finally:
            connections.close_all()
        return won

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = [granted for won in pool.map(buy, range(16)) for granted in won]

    assert results.count(True) == capacity  # none oversold, none turned away with seats left
    assert selectors.category_available(category_id=category.pk) == 0
    assert selectors.invariant_violations(category_id=category.pk) == []
    statements = hold_batches.written().statements - before[0]
    batched = hold_batches.written().holds - before[1]
    # Batches formed: fewer statements than the holds they wrote.
    assert batched > 0
    assert statements < batched


def test_a_lone_buyer_is_written_alone_at_once_and_leaves_the_lane() -> None:
    category = factories.category_of(factories.show(capacity=10, shard_count=2))
    before = hold_batches.written().statements

    hold = holds.hold_place(user_id=5, category_id=category.pk, quantity=1)

    assert hold_batches.written().statements == before  # no batch: nobody else was in flight
    assert Hold.objects.get(pk=hold.pk).shard_id is not None
    lane = hold_batches.Lane.of(category.pk, hold.pk)
    assert hold_batches._client().zcard(lane.in_flight) == 0


def test_a_buyer_whose_batch_never_answers_writes_its_hold_alone_once(
    monkeypatch: Any, settings: Any
) -> None:
    category = factories.category_of(factories.show(capacity=10, shard_count=2))
    monkeypatch.setattr(hold_batches, "WAIT_SECONDS", 0.3)
    settings.CLEAVE_TICKETING_HOLD_BATCH_FROM = 1  # every hold joins its lane
    # Another writer holds every lane and answers nobody (it died after taking the lock).
    redis = hold_batches._client()
    lanes = {hold_batches.Lane.of(category.pk, uuid.UUID(int=lane)) for lane in range(4)}
    for lane in lanes:
        redis.set(lane.lock, "dead", px=5000)
    timeouts = _fallbacks("timeout")
    try:
        hold = holds.hold_place(user_id=7, category_id=category.pk, quantity=2)
    finally:
        redis.delete(*(lane.lock for lane in lanes))

    assert Hold.objects.get(pk=hold.pk).quantity == 2
    assert _held(category.pk) == 2
    assert _fallbacks("timeout") == timeouts + 1
    for lane in lanes:  # the request was taken back: no later writer writes it again
        assert redis.llen(lane.queue) == 0


def test_a_request_older_than_a_buyer_waits_is_never_written() -> None:
    category = factories.category_of(factories.show(capacity=10, shard_count=2))
    stale = _request(3, age=hold_batches.WAIT_SECONDS + 1)
    redis = hold_batches._client()
    lane = hold_batches.Lane.of(category.pk, stale.hold_id)
    fresh = hold_batches.Request(
        uuid.uuid4(), 4, 1, timezone.now() + timedelta(minutes=10), timezone.now()
    )
    redis.set(lane.lock, "writer", px=5000)
    given_up = _fallbacks("stale")

    answer = hold_batches._write_until_answered(
        redis, lane, "writer", 2, category.pk, [stale.encode().encode()], fresh
    )

    assert answer is None  # its own request was never in the batch: the queue ran dry
    assert redis.get(lane.lock) is None  # and the writer let the lane go
    assert not Hold.objects.filter(pk=stale.hold_id).exists()
    assert _held(category.pk) == 0
    assert _fallbacks("stale") == given_up + 1


def test_with_redis_down_holds_go_on_each_written_alone(monkeypatch: Any, settings: Any) -> None:
    import redis

    category = factories.category_of(factories.show(capacity=10, shard_count=2))
    settings.CLEAVE_TICKETING_HOLD_BATCH_FROM = 1  # every hold would join its lane
    nowhere = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    monkeypatch.setattr(hold_batches, "_client", lambda: nowhere)
    before = hold_batches.written().statements
    failures = _fallbacks("redis")

    hold = holds.hold_place(user_id=8, category_id=category.pk, quantity=3)

    assert hold_batches.written().statements == before
    assert _fallbacks("redis") == failures + 1  # counted once: at its arrival, then alone
    assert Hold.objects.get(pk=hold.pk).quantity == 3
    assert _held(category.pk) == 3
    assert selectors.invariant_violations(category_id=category.pk) == []


def test_a_batch_that_redis_fails_midway_is_written_once(monkeypatch: Any, settings: Any) -> None:
    """Redis fails after the batch committed, before its answers: the buyer writes alone, meets
    the batch's row, and gets that hold; the seats are taken once."""
    category = factories.category_of(factories.show(capacity=10, shard_count=2))
    settings.CLEAVE_TICKETING_HOLD_BATCH_FROM = 1
    real = hold_batches.write_batch

    def write_then_fail(**kwargs: Any) -> dict[uuid.UUID, int]:
        real(**kwargs)
        raise hold_batches.RedisError("connection lost after the batch committed")

    monkeypatch.setattr(hold_batches, "write_batch", write_then_fail)

    hold = holds.hold_place(user_id=9, category_id=category.pk, quantity=2)

    assert Hold.objects.filter(category_id=category.pk).count() == 1
    assert Hold.objects.get(pk=hold.pk).quantity == 2
    assert _held(category.pk) == 2
    assert selectors.invariant_violations(category_id=category.pk) == []
