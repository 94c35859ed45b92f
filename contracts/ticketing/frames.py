"""ticketing on `/ws/v1`: `order.updated` on `order:<order id>` streams (readable by the order's
buyer), one frame per transition of the purchase; a show's waiting room: `queue.progress` on
`queue:<show id>` (which place is being served, how many wait) and `queue.admitted` on the
buyer's own `user:<id>` stream (their turn: the token that lets them hold seats and buy).
Registered by apps.ticketing.realtime."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QueueProgress(Payload):
    """`queue.progress`, at most every few seconds while buyers wait: every place up to
    `serving` has been let through; `waiting` buyers are still queued behind it."""

    show_id: int
    serving: int
    waiting: int


class QueueAdmitted(Payload):
    """`queue.admitted`: this buyer's turn. Send `admission_token` with holds and orders for
    the show until `expires_at` (`GET …/shows/{id}/queue` gives it again)."""

    show_id: int
    place: int
    admission_token: str
    expires_at: Timestamp


class OrderUpdated(Payload):
    """`order.updated`: the order's new status. At `awaiting_payment` the app fetches the
    order (`GET /api/v1/ticketing/orders/{id}`: the client secret) and confirms the payment;
    `completed` carries the ticket ids; `cancelled` its `reason`."""

    order_id: str
    status: str
    reason: str
    payment_intent_id: int | None
    ticket_ids: list[str]
    updated_at: Timestamp
