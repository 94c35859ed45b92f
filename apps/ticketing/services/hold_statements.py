"""The SQL of the on-sale hot path (services.holds; bench/ticketing runs the same statements).

Each statement picks a counter shard with room, takes the seats from it, and writes the hold
naming that shard — one statement, so a shard's row lock lasts one round trip, not three. It
answers one row: `picked` (the shard it tried; NULL when no shard had room in its snapshot)
and `taken` (that shard's id when the hold was written; NULL when someone else took the seats
first).

- `TAKE_FREE_SHARD`: the pick walks the category's shards up from a random one (`start`), in
  the order of the (category, index) unique index, and takes the first with room that no other
  buyer has locked (SKIP LOCKED); only when none from there up is free does a second walk go
  from 0 up to the start (COALESCE runs it lazily). It reads a row or two and sorts nothing, so
  concurrent buyers of one category spread over its shards at the least cost. (It replaced a
  walk up from the start followed, when that found nothing, by a second statement sorting every
  shard by `(index + start) % shards`: one statement now where there were often two.)
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
    {{pick}}
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

# One walk of the category's shards in the order of the (category, index) unique index, from
# `index {op} start`: it stops at the first shard with room (and, with SKIP_LOCKED, unlocked).
_WALK = f"""(
        SELECT id FROM {_SHARDS}
        WHERE category_id = %(category_id)s AND capacity - held - sold >= %(quantity)s
            AND "index" {{op}} %(start)s
        ORDER BY "index"
        LIMIT 1
        {{lock}}
    )"""  # noqa: S608 - the model's own table, every value a bound parameter
# Up from start, then (only if that found none: COALESCE evaluates its second walk lazily) up
# from 0 to start: a wrap-around that reads a row or two in index order and sorts nothing.
_WRAPPING = "SELECT coalesce({up}, {around}) AS id"


def _take(lock: str) -> str:
    up, around = _WALK.format(op=">=", lock=lock), _WALK.format(op="<", lock=lock)
    return _TEMPLATE.format(pick=_WRAPPING.format(up=up, around=around))


TAKE_FREE_SHARD = _take(SKIP_LOCKED)
TAKE_WAITING = _take("")

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
