"""ticketing's request and response schemas (the mobile API's shapes)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Literal

from ninja import Schema
from pydantic import Field

from cleave.api import RequestSchema, StrictId


class VenueOut(Schema):
    id: int
    name: str
    city: str
    address: str
    latitude: float
    longitude: float
    h3_cell: str = Field(description="The venue's H3 cell at resolution 8.")


class ShowOut(Schema):
    id: int
    title: str
    starts_at: datetime.datetime
    ends_at: datetime.datetime
    venue: VenueOut


class CategoryOut(Schema):
    id: int
    name: str
    price_cents: int
    currency: str
    capacity: int
    available: int = Field(description="Seats neither sold nor held right now.")
    numbered: bool = Field(
        default=False,
        description="Numbered seats: pick them from the category's seat map, or let the hold "
        "pick the best available.",
    )


class SeatOut(Schema):
    id: int
    row: str
    number: int
    available: bool = Field(description="Neither held nor sold right now.")


class ShowDetailOut(ShowOut):
    categories: list[CategoryOut]


class ScannerKeyOut(Schema):
    show_id: int
    algorithm: Literal["Ed25519"]
    public_key: str = Field(description="Raw 32-byte Ed25519 public key, base64url unpadded.")


class HoldCreateIn(RequestSchema):
    category_id: StrictId
    quantity: int = Field(ge=1, le=100, strict=True)
    seat_ids: list[StrictId] | None = Field(
        default=None,
        max_length=100,
        description="Numbered categories: the seats you want (`quantity` of them, from the "
        "seat map); without, the best available are picked.",
    )
    admission_token: str | None = Field(
        default=None,
        max_length=300,
        description="The waiting room's admission (`queue.admitted`), when the show has one.",
    )


class SeatRefOut(Schema):
    id: int
    row: str
    number: int


class HoldOut(Schema):
    id: uuid.UUID
    category_id: int
    quantity: int
    status: Literal["active", "released", "expired", "converted"]
    expires_at: datetime.datetime
    seats: list[SeatRefOut] = Field(
        default_factory=list,
        description="A numbered category's seats while the hold has them (best first).",
    )

    @staticmethod
    def resolve_seats(hold: Any) -> list[Any]:
        # Read only for numbered categories: a general-admission hold costs no query more.
        if not hold.category.numbered or hold.status not in ("active", "converted"):
            return []
        return list(hold.seats.order_by("position"))


class TicketOut(Schema):
    id: uuid.UUID
    status: Literal["valid", "void"]
    token: str = Field(description="The QR code's content: a signed ticket (docs/ticketing.md).")
    show_id: int
    show_title: str
    starts_at: datetime.datetime
    venue_name: str
    city: str
    category_name: str
    seat: SeatRefOut | None = Field(default=None, description="Numbered categories: the seat.")
    issued_at: datetime.datetime


class TicketPageOut(Schema):
    items: list[TicketOut]
    next_cursor: str | None


class ScanIn(RequestSchema):
    token: str = Field(min_length=1, max_length=200)
    gate: str = Field(min_length=1, max_length=60)
    scanned_at: datetime.datetime = Field(description="When the scanner read the code (its clock).")


class CheckinsIn(RequestSchema):
    show_id: StrictId
    scans: list[ScanIn] = Field(min_length=1, max_length=500)


class ScanResultOut(Schema):
    token: str
    status: Literal["admitted", "already_used", "invalid", "void", "wrong_show"]
    ticket_id: str | None
    first_scanned_at: datetime.datetime | None
    first_gate: str | None


class CheckinsOut(Schema):
    results: list[ScanResultOut]


class QueueOut(Schema):
    show_id: int
    place: int = Field(description="Your number: places are let through in increasing order.")
    position: int = Field(description="Buyers waiting ahead of you, you included; 0 once in.")
    status: Literal["waiting", "admitted"]
    stream: str = Field(description="The socket stream of this queue's `queue.progress`.")
    admission_token: str | None = Field(description="Once admitted: send it with your holds.")
    expires_at: datetime.datetime | None = Field(description="When the admission runs out.")


OrderStatus = Literal[
    "placed", "awaiting_payment", "authorized", "paid", "completed", "cancelling", "cancelled"
]


class OrderCreateIn(RequestSchema):
    category_id: StrictId
    quantity: int = Field(ge=1, le=100, strict=True)
    seat_ids: list[StrictId] | None = Field(
        default=None,
        max_length=100,
        description="Numbered categories: the seats you want (`quantity` of them, from the "
        "seat map); without, the best available are picked.",
    )
    payment_method: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A saved payment method: confirmed at once, no client-side confirmation.",
    )
    admission_token: str | None = Field(
        default=None,
        max_length=300,
        description="The waiting room's admission (`queue.admitted`), when the show has one.",
    )


class OrderPaymentOut(Schema):
    intent_id: int
    status: str = Field(description="The payment intent's status (Stripe's PaymentIntent).")
    client_secret: str | None = Field(
        description="For the provider's mobile SDK while the payment awaits confirmation; "
        "keep it in memory only."
    )


class OrderOut(Schema):
    id: uuid.UUID
    status: OrderStatus
    reason: str = Field(description="Why a cancelled order was cancelled (empty otherwise).")
    saga_state: str = Field(description="The purchase saga's state: running, waiting, …")
    saga_step: str
    show_id: int
    category_id: int
    quantity: int
    seat_ids: list[int] = Field(default_factory=list, description="The seats named, if any.")
    amount_cents: int
    currency: str
    stream: str = Field(description="The socket stream with this order's `order.updated` frames.")
    payment: OrderPaymentOut | None = Field(description="Once the payment intent exists.")
    ticket_ids: list[uuid.UUID]
    created_at: datetime.datetime
    updated_at: datetime.datetime


class OrderSummaryOut(Schema):
    id: uuid.UUID
    status: OrderStatus
    reason: str
    show_id: int
    category_id: int
    quantity: int
    amount_cents: int
    currency: str
    payment_intent_id: int | None
    created_at: datetime.datetime

    @staticmethod
    def resolve_show_id(order: Any) -> int:
        return int(order.category.show_id)  # selected with the order (selectors.order_list)
