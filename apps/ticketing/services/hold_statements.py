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

# --- batches (services.hold_batches) ---------------------------------------------------------
# One walk as above, answering the locked shard's id and its room: FOR NO KEY UPDATE returns the
# row's latest version (PostgreSQL re-reads a row it locks), so the room is the one it has now,
# not the statement's snapshot's.
_BATCH_WALK = f"""(
        SELECT ARRAY[id, capacity - held - sold] FROM {_SHARDS}
        WHERE category_id = %(category_id)s AND capacity - held - sold >= %(least)s
            AND "index" {{op}} %(start)s
        ORDER BY "index"
        LIMIT 1
        {SKIP_LOCKED}
    )"""  # noqa: S608 - the model's own table, every value a bound parameter

# Many buyers' holds in one statement: the pick takes an unlocked shard with room for the first
# request (`least`), `fits` keeps the longest run of requests whose seats that room holds, the
# INSERT writes their holds except any whose id exists already (a buyer who gave up waiting and
# wrote it alone), and the UPDATE takes from the shard exactly the seats of the holds inserted,
# so the counter always equals its holds. It answers `shard_id` (NULL: no unlocked shard had
# room for the first request), `considered` (how many requests, from the first, were fitted;
# the rest go to the next statement) and `inserted` (the ids written). The shard's CHECK
# (held + sold <= capacity) still stands behind the room read here.
BATCH_STATEMENT = f"""
WITH req AS (
    SELECT * FROM unnest(
        %(ids)s::uuid[], %(user_ids)s::bigint[], %(quantities)s::smallint[],
        %(expires)s::timestamptz[], %(created)s::timestamptz[]
    ) WITH ORDINALITY AS r(id, user_id, quantity, expires_at, created_at, n)
), pick AS (
    SELECT coalesce({_BATCH_WALK.format(op=">=")}, {_BATCH_WALK.format(op="<")}) AS shard
), fits AS (
    SELECT id, user_id, quantity, expires_at, created_at FROM (
        SELECT req.*, sum(quantity) OVER (ORDER BY n) AS running FROM req
    ) AS ordered
    WHERE running <= (SELECT shard[2] FROM pick)
), hold AS (
    INSERT INTO {_HOLDS}
        (id, user_id, category_id, shard_id, quantity, status, key, expires_at, created_at)
    SELECT fits.id, fits.user_id, %(category_id)s, (SELECT shard[1] FROM pick), fits.quantity,
        'active', NULL, fits.expires_at, fits.created_at
    FROM fits
    ON CONFLICT (id) DO NOTHING
    RETURNING id, quantity
), taken AS (
    UPDATE {_SHARDS} SET held = held + (SELECT sum(quantity) FROM hold)
    WHERE id = (SELECT shard[1] FROM pick) AND EXISTS (SELECT 1 FROM hold)
    RETURNING id
)
SELECT (SELECT shard[1] FROM pick) AS shard_id, (SELECT count(*) FROM fits) AS considered,
    ARRAY(SELECT id FROM hold) AS inserted
"""  # noqa: S608 - table names are the models' own, every value a bound parameter
