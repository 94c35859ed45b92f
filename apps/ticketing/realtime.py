"""ticketing on the socket, two stream families (each checked whenever a socket joins or
resumes one, and joined by a connecting socket when its user has something open there):

- `queue:<show id>`: a waiting room's progress (`queue.progress`), readable by the buyers
  holding a place in that show's queue; `queue.admitted` goes to each admitted buyer's own
  stream;
- `order:<order id>`: the purchase's transitions (`order.updated`, pushed by services.orders),
  readable by the order's buyer only.
"""

from __future__ import annotations

import uuid

from apps.ticketing import selectors
from apps.ticketing.services.orders import ORDER_FAMILY, ORDER_UPDATED, order_stream
from apps.ticketing.services.waiting_room import QUEUE_FAMILY, queue_stream
from cleave.api import ID_MAX
from cleave.auth.principal import Principal
from cleave.realtime import register_event, register_streams
from contracts.ticketing.frames import OrderUpdated, QueueAdmitted, QueueProgress


# --- queue:<show id> -----------------------------------------------------------------------------
def _show_id(stream: str) -> int | None:
    """The id in "queue:<id>", or None for anything a client made up."""
    _, _, raw = stream.partition(":")
    if not (raw.isascii() and raw.isdigit()):
        return None
    show_id = int(raw)
    return show_id if 0 < show_id <= ID_MAX else None


def _queue_readable(principal: Principal, streams: list[str]) -> set[str]:
    wanted = {show: stream for stream in streams if (show := _show_id(stream))}
    queued = selectors.queued_shows(user_id=principal.user_id, show_ids=list(wanted))
    return {wanted[show] for show in queued}


def _queue_initial_many(principals: list[Principal]) -> dict[int, list[str]]:
    """The queues each buyer still waits in, for a batch of connecting sockets in one query."""
    buyers = [principal.user_id for principal in principals]
    found = selectors.waiting_in_many(user_ids=buyers)
    return {buyer: [queue_stream(show) for show in found.get(buyer, [])] for buyer in buyers}


def _queue_initial(principal: Principal) -> list[str]:
    return _queue_initial_many([principal])[principal.user_id]


# --- order:<order id> ----------------------------------------------------------------------------
def _order_id(stream: str) -> uuid.UUID | None:
    """The id in "order:<uuid>", or None for anything a client made up."""
    _, _, raw = stream.partition(":")
    try:
        return uuid.UUID(raw) if len(raw) == 36 else None
    except ValueError:
        return None


def _order_readable(principal: Principal, streams: list[str]) -> set[str]:
    wanted = {order_id: stream for stream in streams if (order_id := _order_id(stream))}
    owned = selectors.order_ids_owned(user_id=principal.user_id, order_ids=list(wanted))
    return {wanted[order_id] for order_id in owned}


def _order_initial_many(principals: list[Principal]) -> dict[int, list[str]]:
    found = selectors.order_ids_open(user_ids=[principal.user_id for principal in principals])
    return {user_id: [order_stream(i) for i in ids] for user_id, ids in found.items()}


def _order_initial(principal: Principal) -> list[str]:
    return _order_initial_many([principal])[principal.user_id]


def register() -> None:
    register_streams(
        QUEUE_FAMILY,
        initial=_queue_initial,
        readable=_queue_readable,
        initial_many=_queue_initial_many,
    )
    register_event("queue.progress", QueueProgress, stream=QUEUE_FAMILY)
    register_event("queue.admitted", QueueAdmitted, stream="user")
    register_streams(
        ORDER_FAMILY,
        initial=_order_initial,
        readable=_order_readable,
        initial_many=_order_initial_many,
    )
    register_event(ORDER_UPDATED, OrderUpdated, stream=ORDER_FAMILY)
