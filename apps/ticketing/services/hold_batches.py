"""Holds written in batches: buyers of one category who arrive while a batch is being written
are held together by the next one, one statement and one commit for many holds.

Why. A design that commits one transaction per hold cannot pass what one commit costs on the
database: bench/ticketing/pgbench.py's `commit` (a counter rewritten, nothing recorded) is only
6-10x the naive row lock on these two cores, and the sharded statement reaches 4-6x. Four
writers of 16 holds a statement reach 35x, of 2 holds 6.8x (docs/benchmarks.md, third
series). App servers scale out; the database does not, so the work per hold is moved out of it.

How (flat combining over Redis, no process of its own). Each buyer is counted in flight on one
of the category's `lanes` (by its hold's id) until its hold is written (`in_flight`); below
`batch_from` buyers in flight it writes alone at once, since a batch of one brings nothing. On
a busy lane, a buyer pushes its request onto the lane's queue and tries to become its writer (a
Redis lock with a time to live). The writer pops up to `batch` requests, writes them with
BATCH_STATEMENT on a connection of its own in autocommit (so the holds commit before anyone
hears of them, whatever transaction the writer's caller is in), answers each buyer on its
reply list, and goes on until its own request is answered; it then lets the lane go, leaving
a baton when buyers still queue, which wakes exactly one of them to take the lock. The others
wait on their reply lists and the baton, and retry the lock every POLL_SECONDS in case a
writer died between its pop and its answers. Each step is one round trip (a Lua script).

What cannot be batched is written alone by its buyer (services.holds, one statement): the
batching is off (`CLEAVE_TICKETING_HOLD_BATCH` = 0), there is no Redis (embedded mode), the
category is numbered or seats are named, no unlocked shard has room for the batch's first
request (a category selling out: the single path waits for locked shards and splits holds over
several), or no answer came within WAIT_SECONDS. In that last case the buyer first takes its
request back off the queue (LREM); if someone had already popped it, a batch may still write
it, and the hold's id settles who wins: the batch's INSERT skips an id that exists (ON CONFLICT
DO NOTHING, and the shard's counter takes only the seats of the holds inserted), and the single
path's INSERT meets the batch's row (IntegrityError: services.holds returns that hold).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.utils import timezone
from psycopg import DatabaseError
from psycopg_pool import PoolTimeout
from redis.exceptions import RedisError

from apps.ticketing import metrics
from apps.ticketing.services.hold_batch_writes import ALONE as ALONE
from apps.ticketing.services.hold_batch_writes import EXISTS as EXISTS
from apps.ticketing.services.hold_batch_writes import Request as Request
from apps.ticketing.services.hold_batch_writes import close_connections as close_connections
from apps.ticketing.services.hold_batch_writes import lanes
from apps.ticketing.services.hold_batch_writes import write_batch as write_batch
from apps.ticketing.services.hold_batch_writes import written as written
from cleave.databases import database_for

DB = database_for("ticketing")
logger = logging.getLogger(__name__)
# How long a buyer waits for a batch to answer before writing its hold alone.
WAIT_SECONDS = 2.0
# How often a waiting buyer retries the lane's lock: only matters when a writer died or let go
# between a buyer's push and its answer (a live writer answers, and hands the lane on).
POLL_SECONDS = 0.05
# The writer's lock outlives any batch it writes (a statement waits at most LOCK_TIMEOUT);
# a writer that dies leaves it for this long at most.
LOCK_MILLISECONDS = 3000
REPLY_SECONDS = 30  # an answer nobody fetched (its buyer gave up) is dropped after this


def batch_size() -> int:
    """Holds per statement at most (declared in context.py); 0 turns batching off."""
    return int(settings.CLEAVE_TICKETING_HOLD_BATCH)  # type: ignore[misc]


def batch_from() -> int:
    """Buyers in flight on a lane (this one included) from which a hold joins the lane's
    batches; below it, it is written alone at once (declared in context.py)."""
    return int(settings.CLEAVE_TICKETING_HOLD_BATCH_FROM)  # type: ignore[misc]


def enabled() -> bool:
    return (
        batch_size() > 0
        and bool(settings.CONFIG.redis_url)
        and connections[DB].vendor == "postgresql"
    )


_lock = threading.Lock()
_redis: Any = None


def _client() -> Any:
    """One Redis client per process, on a sized pool that waits instead of raising."""
    global _redis
    with _lock:
        if _redis is None:
            from cleave.realtime.connections import sync_client

            _redis = sync_client(str(settings.CONFIG.redis_url))
        return _redis


@dataclass(frozen=True)
class Lane:
    """A category's lane's keys in Redis; one hash tag, so every script's keys share a slot."""

    tag: str

    @classmethod
    def of(cls, category_id: int, hold_id: uuid.UUID) -> Lane:
        # The database's name in it: a category id means one category in one database only.
        database = connections[DB].settings_dict["NAME"]
        return cls(f"{{{database}:{category_id}:{hold_id.int % lanes()}}}")

    @property
    def queue(self) -> str:
        return f"ticketing:holds:{self.tag}"

    @property
    def lock(self) -> str:
        return f"ticketing:holds:{self.tag}:writer"

    @property
    def baton(self) -> str:
        """Where a writer who stops leaves the lane to one waiting buyer (BLPOP wakes one)."""
        return f"ticketing:holds:{self.tag}:baton"

    @property
    def in_flight(self) -> str:
        """The lane's buyers being held now: a sorted set of their hold ids by arrival (ms)."""
        return f"ticketing:holds:{self.tag}:in-flight"

    def reply(self, hold_id: uuid.UUID) -> str:
        return f"ticketing:hold:{self.tag}:{hold_id}"


# Each script is one round trip. JOIN: queue the request and try to become the writer; TAKE: try
# to become the writer; as the writer, the first batch comes back with it ({1, batch} or {0}).
_TAKE = """
if redis.call('set', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
    return {1, redis.call('lpop', KEYS[1], ARGV[3]) or {}}
end
return {0}
"""
_JOIN = "redis.call('rpush', KEYS[1], ARGV[4]) redis.call('expire', KEYS[1], ARGV[5])\n" + _TAKE
# ANSWER, as the writer: each answer onto its buyer's reply list (KEYS[4:], ARGV[5:]); then the
# next batch (ARGV[4] = 1: the writer's own request is not answered yet), or let go of the lane:
# the lock deleted if still ours, and the baton left when buyers still queue.
_ANSWER = """
for i = 4, #KEYS do
    redis.call('rpush', KEYS[i], ARGV[i + 1])
    redis.call('expire', KEYS[i], ARGV[3])
end
if ARGV[4] == '1' then
    local batch = redis.call('lpop', KEYS[1], ARGV[2])
    if batch then return batch end
end
if redis.call('get', KEYS[2]) == ARGV[1] then redis.call('del', KEYS[2]) end
if redis.call('llen', KEYS[1]) > 0 and redis.call('llen', KEYS[3]) == 0 then
    redis.call('rpush', KEYS[3], 1)
    redis.call('expire', KEYS[3], ARGV[3])
end
return {}
"""


# ARRIVE: count this buyer in flight on the lane (its hold's id, by arrival in ms), forgetting
# arrivals older than IN_FLIGHT_SECONDS (a buyer whose process died never leaves); answers how
# many are in flight, this one included.
_ARRIVE = """
redis.call('zremrangebyscore', KEYS[1], '-inf', ARGV[2] - ARGV[3])
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])
redis.call('pexpire', KEYS[1], ARGV[3])
return redis.call('zcard', KEYS[1])
"""
IN_FLIGHT_SECONDS = 10


@contextmanager
def in_flight(category_id: int, hold_id: uuid.UUID) -> Iterator[bool]:
    """Count the hold in flight on its lane while the block runs; yields whether the lane is
    busy enough (`batch_from`) for the hold to join its batches. Below that, batches would hold
    one buyer each and only add a wait behind the lane's writer (docs/benchmarks.md: p99 115 ms
    against 15 ms at half load when every hold went through its lane)."""
    redis, lane, member = _client(), Lane.of(category_id, hold_id), str(hold_id)
    now_ms = int(time.time() * 1000)
    try:
        count = redis.eval(_ARRIVE, 1, lane.in_flight, member, now_ms, IN_FLIGHT_SECONDS * 1000)
    except RedisError as error:  # Redis down: holds go on, each alone
        logger.warning("holds written alone: Redis failed (%s)", error)
        metrics.hold_batch_fallbacks.labels("redis").inc()
        yield False
        return
    try:
        yield int(count) >= batch_from()
    finally:
        try:
            redis.zrem(lane.in_flight, member)
        except RedisError:  # forgotten after IN_FLIGHT_SECONDS anyway
            logger.warning("a hold's in-flight entry outlives it: Redis failed")


def place(*, category_id: int, shards: int, request: Request) -> int | None:
    """Write `request`'s hold in a batch: the shard it took its seats from, EXISTS if a hold
    with its id was there already, or None when the caller must write it alone (as when Redis
    fails midway: a request it left queued may still be written by a batch, and the hold's id
    settles which write lands, as after a buyer's timeout)."""
    try:
        return _place(category_id, shards, request)
    except RedisError as error:
        logger.warning("a hold written alone: Redis failed (%s)", error)
        metrics.hold_batch_fallbacks.labels("redis").inc()
        return None


def _place(category_id: int, shards: int, request: Request) -> int | None:
    redis = _client()
    lane, encoded, token = Lane.of(category_id, request.hold_id), request.encode(), uuid.uuid4().hex
    reply = lane.reply(request.hold_id)
    deadline = time.monotonic() + WAIT_SECONDS
    taken = redis.eval(
        _JOIN, 2, lane.queue, lane.lock, token, LOCK_MILLISECONDS, batch_size(), encoded,
        REPLY_SECONDS,
    )  # fmt: skip
    while True:
        if int(taken[0]) == 1:
            answer = _write_until_answered(
                redis, lane, token, shards, category_id, taken[1], request
            )
            if answer is not None:
                return None if answer == ALONE else answer
            # Our request was popped by a writer before us: its answer is on our reply list.
        if time.monotonic() >= deadline:
            break
        popped = redis.blpop([reply, lane.baton], timeout=POLL_SECONDS)
        if popped is not None and popped[0].decode() == reply:
            answer = int(popped[1])
            return None if answer == ALONE else answer
        # The baton, or no word for POLL_SECONDS (a writer may have died): try the lane.
        taken = redis.eval(_TAKE, 2, lane.queue, lane.lock, token, LOCK_MILLISECONDS, batch_size())
    # No answer in time: take the request back, and write it alone (see the module's doc).
    redis.lrem(lane.queue, 1, encoded)
    metrics.hold_batch_fallbacks.labels("timeout").inc()
    return None


def _write_until_answered(
    redis: Any,
    lane: Lane,
    token: str,
    shards: int,
    category_id: int,
    popped: list[bytes],
    mine: Request,
) -> int | None:
    """As the lane's writer, from the batch `popped`: batches until our own request is answered
    (its answer), or the queue is empty (None: another writer popped it, its answer is on our
    reply list). Then the lane goes: the lock deleted, the baton left if buyers still queue."""
    answer: int | None = None
    if not popped:  # our request, and every other, was popped by a writer before us
        redis.eval(
            _ANSWER, 3, lane.queue, lane.lock, lane.baton, token, batch_size(), REPLY_SECONDS, "0"
        )
    while popped:
        requests = [Request.decode(raw) for raw in popped]
        # A request older than a buyer waits was given up (its buyer wrote it alone, or died
        # after pushing it): not written again.
        stale = timezone.now() - timedelta(seconds=WAIT_SECONDS)
        fresh = [request for request in requests if request.created_at > stale]
        try:
            answers = write_batch(category_id=category_id, shards=shards, requests=fresh)
        except (DatabaseError, PoolTimeout) as error:
            # Whatever this batch wrote is committed or not, by id: each buyer writes alone,
            # and a hold that was written meets its own row (see the module's doc).
            logger.warning("a batch of %d holds failed: %s", len(fresh), error)
            metrics.hold_batch_fallbacks.labels("database").inc(len(fresh))
            answers = {request.hold_id: ALONE for request in fresh}
        if given_up := [r.hold_id for r in requests if r.created_at <= stale]:
            metrics.hold_batch_fallbacks.labels("stale").inc(len(given_up))
            answers.update((hold_id, ALONE) for hold_id in given_up)
        others = [r.hold_id for r in requests if r.hold_id != mine.hold_id]
        if mine.hold_id in answers:
            answer = answers[mine.hold_id]
        popped = redis.eval(
            _ANSWER, 3 + len(others), lane.queue, lane.lock, lane.baton,
            *(lane.reply(hold_id) for hold_id in others),
            token, batch_size(), REPLY_SECONDS, "1" if answer is None else "0",
            *(answers[hold_id] for hold_id in others),
        )  # fmt: skip
    return answer
