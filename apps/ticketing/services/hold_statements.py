"""The SQL of the on-sale hot path (services.holds; bench/ticketing runs the same statements).

Each statement picks a counter shard with room, takes the seats from it, and writes the hold
naming that shard — one statement, so a shard's row lock lasts one round trip, not three. It
answers one row: `picked` (the shard it tried; NULL when no shard had room in its snapshot)
and `taken` (that shard's id when the hold was written; NULL when someone else took the seats
first).

- `TAKE_FROM_START`: the pick walks the category's shards up from a random one, in the order of
  the (category, index) unique index, and takes the first with room that no other buyer has
  locked (SKIP LOCKED): it reads a row or two and sorts nothing, so concurrent buyers of one
  category spread over its shards at the least cost. It does not wrap around: when no shard
  from the start up is free it answers `picked` NULL, and the buyer goes on to
- `TAKE_FREE_SHARD`: the same over every shard of the category, in the order start, start + 1,
  …, wrapping around (a sort of the category's shards: it reads them all).
- `TAKE_WAITING`: when every shard with room is locked, the pick takes one without a lock and
  the UPDATE waits for that one row; PostgreSQL re-checks `capacity - held - sold` on the row's
  new version, and a buyer who lost the race tries again (a new pick). A lost race leaves that
  row locked until the transaction ends (PostgreSQL locks the new version before re-checking
  it), so inside a transaction each attempt is a savepoint rolled back when lost
  (services.holds): a buyer never holds one shard while waiting for another. (A waiting pick
  with FOR UPDATE in the SELECT kept the rows it rejected locked the same way, and two buyers
  deadlocked in bench/ticketing: hence the UPDATE waits, not the SELECT.)

Row locks are NO KEY UPDATE, never UPDATE: holds and tickets inserted meanwhile reference shards
by foreign key, and their key-share lock must not queue behind ours.
"""

from __future__ import annotations

from apps.ticketing.models import CategoryShard, Hold

_SHARDS = CategoryShard._meta.db_table
_HOLDS = Hold._meta.db_table
SKIP_LOCKED = "FOR NO KEY UPDATE SKIP LOCKED"

_TEMPLATE = f"""
WITH pick AS (
    SELECT id FROM {_SHARDS}
    WHERE category_id = %(category_id)s AND capacity - held - sold >= %(quantity)s{{where}}
    ORDER BY {{order}}
    LIMIT 1
    {{lock}}
), taken AS (
    UPDATE {_SHARDS} SET held = held + %(quantity)s
    WHERE id = (SELECT id FROM pick) AND capacity - held - sold >= %(quantity)s
    RETURNING id
), hold AS (
    INSERT INTO {_HOLDS}
        (id, user_id, category_id, shard_id, quantity, status, key, expires_at, created_at)
    SELECT %(hold_id)s, %(user_id)s, %(category_id)s, taken.id, %(quantity)s, 'active', %(key)s,
        %(expires_at)s, %(now)s
    FROM taken
    RETURNING shard_id
)
SELECT (SELECT id FROM pick) AS picked, (SELECT shard_id FROM hold) AS taken
"""  # noqa: S608 - table names are the models' own, every value a bound parameter

_WRAPPING = '("index" + %(start)s) %% %(shards)s'
TAKE_FROM_START = _TEMPLATE.format(
    where=' AND "index" >= %(start)s', order='"index"', lock=SKIP_LOCKED
)
TAKE_FREE_SHARD = _TEMPLATE.format(where="", order=_WRAPPING, lock=SKIP_LOCKED)
TAKE_WAITING = _TEMPLATE.format(where="", order=_WRAPPING, lock="")

# SQLite (embedded mode) has neither row locks nor data-modifying CTEs; it runs one writer at a
# time, so taking the seats with a plain statement is safe there (the hold is written after).
TAKE_ONE_SHARD_SQLITE = f"""
UPDATE {_SHARDS} SET held = held + %(quantity)s
WHERE id = (
    SELECT id FROM {_SHARDS}
    WHERE category_id = %(category_id)s AND capacity - held - sold >= %(quantity)s
    ORDER BY ("index" + %(start)s) %% %(shards)s
    LIMIT 1
)
RETURNING id
"""  # noqa: S608 - table names are the models' own, every value a bound parameter
