"""ticketing declares itself: shows, holds, tickets; the door scanners' role; waiting rooms'
streams; its settings."""

from collections.abc import Mapping

from cleave.contexts import Context, Realtime


def _settings(env: Mapping[str, str]) -> dict[str, int]:
    return {
        # How long a hold keeps its seats: long enough to pay on a phone (3-D Secure included),
        # short enough that abandoned carts come back on sale during an on-sale rush.
        "CLEAVE_TICKETING_HOLD_SECONDS": int(env.get("CLEAVE_TICKETING_HOLD_SECONDS", "600")),
        # How long the purchase saga waits for the buyer's payment confirmation: inside the
        # hold's time to live (above), so seats paid for are still held when the capture lands.
        "CLEAVE_TICKETING_PAYMENT_SECONDS": int(env.get("CLEAVE_TICKETING_PAYMENT_SECONDS", "480")),
        # Seats one hold may take: a family, not a scalper's bot.
        "CLEAVE_TICKETING_MAX_SEATS_PER_HOLD": int(
            env.get("CLEAVE_TICKETING_MAX_SEATS_PER_HOLD", "10")
        ),
        # Holds one statement writes at most (services.hold_batches): buyers of a category who
        # arrive while a batch is written are held by the next, one commit for many. 0 writes
        # every hold alone. 32: past ~8 a statement, the database's gain flattens
        # (docs/benchmarks.md), and a bigger batch only makes its first buyer wait longer.
        "CLEAVE_TICKETING_HOLD_BATCH": int(env.get("CLEAVE_TICKETING_HOLD_BATCH", "32")),
        # Buyers in flight on a lane (this one included) from which holds join its batches;
        # below, a hold is written alone at once: a batch of one brings nothing and makes a
        # buyer wait behind the lane's writer. 6, not 3: at half the service's hold throughput
        # 3 let shallow batches form, p99 70 ms against 16 ms (docs/benchmarks.md, fourth series).
        "CLEAVE_TICKETING_HOLD_BATCH_FROM": int(env.get("CLEAVE_TICKETING_HOLD_BATCH_FROM", "6")),
        # Writers at once per category (one per lane): the statements a category's on-sale
        # keeps running in parallel, each on one shard.
        "CLEAVE_TICKETING_HOLD_LANES": int(env.get("CLEAVE_TICKETING_HOLD_LANES", "4")),
        # How long a waiting room's admission lets its buyer start holding seats: long enough
        # to pick seats after a notification, short enough that a no-show's turn is not kept.
        "CLEAVE_TICKETING_ADMISSION_SECONDS": int(
            env.get("CLEAVE_TICKETING_ADMISSION_SECONDS", "600")
        ),
    }


CONTEXT = Context(
    label="ticketing",
    app="apps.ticketing",
    url_prefixes=("/api/v1/ticketing",),
    encrypted_fields=("Show.private_key",),
    # Door staff: their app posts check-ins; nothing else.
    roles=("scanner",),
    # Waiting rooms: `queue:<show id>` streams of queue progress; `order:<order id>`: the
    # purchase's transitions, readable by the order's buyer only (apps/ticketing/realtime.py).
    realtime=Realtime(stream_families=("queue", "order")),
    settings=_settings,
)
