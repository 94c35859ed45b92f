"""What ticketing publishes: shows as they go on sale, tickets as they are issued and used.

Recommendations learn about shows from `ShowPublished` (dates and the venue's H3 cell, no
geometry); a purchase flow and notifications learn about tickets from `TicketIssued`; the
door's admissions are `TicketCheckedIn`. Orders (the purchase saga) are `OrderPlaced`,
`OrderCompleted` (tickets issued, payment captured) and `OrderCancelled` (everything undone:
tickets voided, money back, seats released). No context reads ticketing's tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, Event, call

ShowStatus = Literal["draft", "published"]


class ShowsGet(ContractModel):
    show_ids: list[int] = Field(max_length=100)


class ShowSummary(ContractModel):
    show_id: int
    title: str
    status: ShowStatus
    starts_at: datetime
    ends_at: datetime
    venue_name: str
    city: str
    h3_cell: str
    available: int  # seats neither sold nor held, over every category


class ShowSummaries(ContractModel):
    shows: list[ShowSummary]  # the published ones among those asked for, in no set order


class TicketingService(Protocol):
    @call(idempotent=True)
    def shows_get(self, query: ShowsGet) -> ShowSummaries: ...


class ShowPublished(Event):
    event_type: ClassVar[str] = "ticketing.show_published"
    show_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    venue_id: int
    city: str
    h3_cell: str  # the venue's H3 cell at resolution 8


class TicketIssued(Event):
    event_type: ClassVar[str] = "ticketing.ticket_issued"
    ticket_id: str
    show_id: int
    category_id: int
    user_id: int
    order_ref: str
    # The seat, in a numbered category (None: general admission).
    seat_id: int | None = None
    seat_row: str | None = None
    seat_number: int | None = None


class TicketCheckedIn(Event):
    event_type: ClassVar[str] = "ticketing.ticket_checked_in"
    ticket_id: str
    show_id: int
    user_id: int
    gate: str
    scanned_at: datetime


class OrderPlaced(Event):
    """A buyer placed an order; the purchase saga runs (aggregate_id = the order id)."""

    event_type: ClassVar[str] = "ticketing.order_placed"
    order_id: str
    user_id: int
    show_id: int
    category_id: int
    quantity: int
    amount: int  # minor units (cents)
    currency: str


class OrderCompleted(Event):
    """Payment captured and tickets issued: what a notification to the buyer needs."""

    event_type: ClassVar[str] = "ticketing.order_completed"
    order_id: str
    user_id: int
    show_id: int
    ticket_ids: list[str]
    amount: int
    currency: str


class OrderCancelled(Event):
    """The order was undone: tickets voided, payment cancelled or refunded, seats released.
    `reason`: declined, timeout, cancelled (by the buyer), failed, sold_out, seat_taken (a seat
    the buyer named went to someone else first), hold_expired, operator."""

    event_type: ClassVar[str] = "ticketing.order_cancelled"
    order_id: str
    user_id: int
    show_id: int
    reason: str


TICKETING = Contract(
    context="ticketing",
    version="1.0",
    service=TicketingService,
    events=(
        OrderCancelled,
        OrderCompleted,
        OrderPlaced,
        ShowPublished,
        TicketCheckedIn,
        TicketIssued,
    ),
)

__all__ = [
    "TICKETING",
    "OrderCancelled",
    "OrderCompleted",
    "OrderPlaced",
    "ShowPublished",
    "ShowStatus",
    "ShowSummaries",
    "ShowSummary",
    "ShowsGet",
    "TicketCheckedIn",
    "TicketIssued",
    "TicketingService",
]
