"""The two hold designs of bench/ticketing, as the statements each sends on one connection.

`sharded` is ticketing's own hot path (apps.ticketing.services.hold_statements: a shard with
room picked with SKIP LOCKED, up from a random one, the seat taken and the hold written in one
statement; then the same over every shard, wrapping around; when every shard with room is
locked, the same statement waiting for one of them). `naive`
first locks the category's row (SELECT … FOR UPDATE), then runs the very same statement on the
category's single counter, then commits: every buyer of the category queues on that row for a
whole transaction. Both write the same rows, so they differ only in how buyers wait.

Raw SQL on psycopg's async connections: one asyncio loop drives every connection, so the
client's cost per hold is small next to the database's and the numbers measure the database's
design rather than Django's per-query overhead (the service itself is proved under real
concurrency by apps/ticketing/tests/test_on_sale_race.py).
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from apps.ticketing.models import Hold
from apps.ticketing.services.hold_statements import TAKE_FREE_SHARD, TAKE_WAITING
from apps.ticketing.services.holds import WAITING_ATTEMPTS

# The naive design's queue: FOR UPDATE in its NO KEY form (the plain one deadlocks with tickets
# being inserted, whose foreign key share-locks the category row): the naive design at its best.
_LOCK_CATEGORY = "SELECT id FROM ticketing_seatcategory WHERE id = %s FOR NO KEY UPDATE"
_TTL = timedelta(minutes=10)


def _params(category_id: int, shards: int, user_id: int) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "category_id": category_id,
        "quantity": 1,
        "start": random.randrange(shards),
        "shards": shards,
        # A purchase saga's step key names the hold's id, as on-sale holds' keys do (the key
        # itself is not stored: Hold.id_for_key).
        "hold_id": Hold.id_for_key(f"{uuid.uuid4()}:hold_seats"),
        "user_id": user_id,
        "key": None,
        "expires_at": now + _TTL,
        "now": now,
    }


async def sharded_hold(conn: AsyncConnection, category_id: int, shards: int, user_id: int) -> bool:
    """One seat, as services.holds.hold_place takes it (autocommit: the fast path is one
    statement). False: sold out."""
    params = _params(category_id, shards, user_id)
    for statement in (TAKE_FREE_SHARD, *(TAKE_WAITING,) * WAITING_ATTEMPTS):
        cursor = await conn.execute(statement, params)
        picked, taken = await cursor.fetchone()  # type: ignore[misc]
        if taken is not None:
            return True
        if picked is None and statement is TAKE_WAITING:
            return False  # no shard has a seat
    raise RuntimeError("lost every race for a seat: the service would lock every shard now")


async def naive_hold(conn: AsyncConnection, category_id: int, shards: int, user_id: int) -> bool:
    """One seat with the category row locked for the whole transaction. False: sold out."""
    async with conn.transaction():
        await conn.execute(_LOCK_CATEGORY, (category_id,))
        cursor = await conn.execute(TAKE_FREE_SHARD, _params(category_id, shards, user_id))
        _, taken = await cursor.fetchone()  # type: ignore[misc]
        return taken is not None
