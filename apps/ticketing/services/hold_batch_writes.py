"""The database side of hold batches (services.hold_batches has the Redis side): the requests
a lane's writer pops, the statement that writes them, and the process's own connections for it.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections

from apps.ticketing import metrics
from apps.ticketing.services.hold_statements import BATCH_STATEMENT
from cleave.databases import database_for

DB = database_for("ticketing")
LOCK_TIMEOUT = "1s"  # a batch's statement waits no longer for a shard (the lane's lock outlives it)
POOL_TIMEOUT = 2.0  # seconds a writer waits for one of the process's batch connections
# Answers on a buyer's reply list, besides the shard its seats came from.
EXISTS = -1  # a hold with this id was there already: read it
ALONE = -2  # no single unlocked shard had room for it: write it alone


def lanes() -> int:
    """Writers at once per category (declared in context.py)."""
    return max(1, int(settings.CLEAVE_TICKETING_HOLD_LANES))  # type: ignore[misc]


@dataclass(frozen=True)
class Request:
    hold_id: uuid.UUID
    user_id: int
    quantity: int
    expires_at: datetime
    created_at: datetime

    def encode(self) -> str:
        return json.dumps(
            [str(self.hold_id), self.user_id, self.quantity,
             self.expires_at.isoformat(), self.created_at.isoformat()]
        )  # fmt: skip

    @classmethod
    def decode(cls, raw: bytes | str) -> Request:
        hold_id, user_id, quantity, expires_at, created_at = json.loads(raw)
        return cls(
            uuid.UUID(hold_id), int(user_id), int(quantity),
            datetime.fromisoformat(expires_at), datetime.fromisoformat(created_at),
        )  # fmt: skip


@dataclass(frozen=True)
class Written:
    statements: int
    holds: int


def written() -> Written:
    """What this process's batches have written (tests and bench/ticketing read it): the batch
    depth histogram's own count and sum, so it is the figure /metrics exports."""
    totals = {"_count": 0.0, "_sum": 0.0}
    for family in metrics.hold_batch_holds.collect():
        for sample in family.samples:
            suffix = sample.name.removeprefix(family.name)
            if suffix in totals:
                totals[suffix] = sample.value
    return Written(statements=int(totals["_count"]), holds=int(totals["_sum"]))


_lock = threading.Lock()
_pools: dict[str, Any] = {}  # by database name


def _writer_pool() -> Any:
    """This process's own connections for batches, at most one per lane: a batch commits on
    its own, never inside the transaction of the request that happens to write it. Opened
    with the alias's parameters but beside its pool (Django's pool would never get them back),
    and few: a connection per thread would double the database's clients (seen: 64 buyers'
    threads met "too many clients")."""
    from psycopg_pool import ConnectionPool

    params = connections[DB].get_connection_params()
    name = str(params.get("dbname"))  # a test run renames the database: follow it
    with _lock:
        pool = _pools.get(name)
        if pool is None:
            params.pop("cursor_factory", None)  # server-side binding: the statement is prepared

            def configure(raw: Any) -> None:
                raw.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
                raw.execute("SET TIME ZONE 'UTC'")

            pool = ConnectionPool(
                kwargs={**params, "autocommit": True}, min_size=0, max_size=lanes(),
                configure=configure, timeout=POOL_TIMEOUT, name="ticketing-hold-batches",
                open=True,
            )  # fmt: skip
            _pools[name] = pool
        return pool


def close_connections() -> None:
    """Close this process's batch connections (a test's end: none outlives its database)."""
    with _lock:
        while _pools:
            _pools.popitem()[1].close()


def write_batch(
    *, category_id: int, shards: int, requests: Sequence[Request]
) -> dict[uuid.UUID, int]:
    """Write the requests' holds, as many statements as it takes: each takes the longest run of
    requests that fits the room of one unlocked shard. Each request's answer: its shard,
    EXISTS, or ALONE once no unlocked shard has room for the next request."""
    answers: dict[uuid.UUID, int] = {}
    pending = list(requests)
    pool = _writer_pool()
    while pending:
        params = {
            "category_id": category_id,
            "start": random.randrange(shards),  # noqa: S311 - spreading load, not a secret
            "least": pending[0].quantity,
            "ids": [r.hold_id for r in pending],
            "user_ids": [r.user_id for r in pending],
            "quantities": [r.quantity for r in pending],
            "expires": [r.expires_at for r in pending],
            "created": [r.created_at for r in pending],
        }
        with pool.connection() as connection:
            row = connection.execute(BATCH_STATEMENT, params).fetchone()
        shard_id, considered, inserted = row
        if shard_id is None:
            metrics.hold_batch_fallbacks.labels("no_room").inc(len(pending))
            answers.update((r.hold_id, ALONE) for r in pending)
            break
        inserted_ids = {uuid.UUID(str(hold_id)) for hold_id in inserted}
        metrics.hold_batch_holds.observe(len(inserted_ids))
        metrics.holds_written.labels("batched").inc(len(inserted_ids))
        for request in pending[:considered]:
            answers[request.hold_id] = shard_id if request.hold_id in inserted_ids else EXISTS
        pending = pending[considered:]
    return answers
