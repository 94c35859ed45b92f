"""ticketing's mobile API under /api/v1/ticketing: browse shows, queue in a show's waiting room,
hold seats, orders (the purchase saga), my tickets, and the door scanners' check-ins
(docs/ticketing.md).

No `from __future__ import annotations` here: ninja resolves `Query[ShowFilterIn]` under
`@paginate` from the evaluated annotation (as a string it stays undefined)."""

import hashlib
import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from apps.ticketing import selectors
from apps.ticketing.error_codes import (
    AdmissionRequired,
    CategoryNotFound,
    HoldKeyReused,
    HoldNotFound,
    IdempotencyKeyRequired,
    NotInQueue,
    OrderKeyReused,
    OrderNotCancellable,
    OrderNotFound,
    SeatCountMismatch,
    SeatNotInCategory,
    SeatTaken,
    ShowNotFound,
    ShowNotOnSale,
    SoldOut,
    TooManySeats,
)
from apps.ticketing.models import Hold, Order, Show
from apps.ticketing.schemas import (
    CheckinsIn,
    CheckinsOut,
    HoldCreateIn,
    HoldOut,
    OrderCreateIn,
    OrderOut,
    OrderSummaryOut,
    QueueOut,
    ScannerKeyOut,
    SeatOut,
    SeatRefOut,
    ShowDetailOut,
    ShowOut,
    TicketOut,
    TicketPageOut,
)
from apps.ticketing.services import checkins, holds, orders, tickets, waiting_room
from cleave.api import Id
from cleave.auth.ninja_auth import bearer, principal_of, require_role
from cleave.openapi.errors import raises
from cleave.pagination import CursorPagination, PageQuery

router = Router(auth=bearer, tags=["ticketing"])


class ShowFilterIn(Schema):
    starts_after: datetime | None = Field(default=None, description="Shows starting at or after.")
    starts_before: datetime | None = Field(default=None, description="Shows starting before.")
    city: str | None = Field(default=None, max_length=120, description="The venue's city.")


def _published(show_id: int) -> Show:
    show = selectors.show_get(show_id=show_id)
    if show is None:
        raise ShowNotFound()
    return show


@router.get("/shows", response=list[ShowOut])
@paginate(CursorPagination, ordering=("starts_at", "id"))
def show_list(request: HttpRequest, filters: Query[ShowFilterIn]) -> Any:
    """Published shows, soonest first; by default those not over yet."""
    return selectors.show_list(
        starts_after=filters.starts_after, starts_before=filters.starts_before, city=filters.city
    )


@router.get("/shows/{show_id}", response=ShowDetailOut)
@raises(ShowNotFound)
def show_get(request: HttpRequest, show_id: Id) -> dict[str, Any]:
    """A show with its seat categories and the seats each has left."""
    show = _published(show_id)
    categories = selectors.categories_with_availability(show_id=show.pk)
    return {**ShowOut.from_orm(show).model_dump(), "categories": categories}


@router.get("/shows/{show_id}/categories/{category_id}/seats", response=list[SeatOut])
@raises(ShowNotFound, CategoryNotFound)
@paginate(CursorPagination, ordering=("position", "id"))
def seat_list(request: HttpRequest, show_id: Id, category_id: Id) -> Any:
    """The seat map of a numbered category, best seats first, each with whether it is
    available now (a general-admission category has none). Name seats from it in a hold or
    an order (`seat_ids`), or let the hold pick the best available."""
    show = _published(show_id)
    category = selectors.category_for_sale(category_id=category_id)
    if category is None or category.show_id != show.pk:
        raise CategoryNotFound()
    return selectors.seat_map(category_id=category.pk)


@router.get("/shows/{show_id}/scanner-keys", response=list[ScannerKeyOut])
@raises(ShowNotFound)
def show_scanner_keys(request: HttpRequest, show_id: Id) -> list[ScannerKeyOut]:
    """The public key(s) that sign the show's tickets, for scanners that verify offline."""
    show = _published(show_id)
    return [ScannerKeyOut(show_id=show.pk, algorithm="Ed25519", public_key=show.public_key)]


@router.post("/shows/{show_id}/queue", response=QueueOut)
@raises(ShowNotFound, ShowNotOnSale)
def queue_join(request: HttpRequest, show_id: Id) -> QueueOut:
    """Take a place in the show's waiting room, or find yours again (a reconnecting app keeps
    its place). Admitted at once while the on-sale has room; else follow `stream`."""
    place = waiting_room.queue_join(show_id=show_id, user_id=principal_of(request).user_id)
    return _queue_out(place)


@router.get("/shows/{show_id}/queue", response=QueueOut)
@raises(NotInQueue)
def queue_get(request: HttpRequest, show_id: Id) -> QueueOut:
    """Your place in the show's waiting room, and your admission token once admitted."""
    place = waiting_room.queue_get(show_id=show_id, user_id=principal_of(request).user_id)
    return _queue_out(place)


def _queue_out(place: waiting_room.Place) -> QueueOut:
    return QueueOut(
        show_id=place.show_id,
        place=place.place,
        position=place.position,
        status="waiting" if place.admitted_at is None else "admitted",
        stream=waiting_room.queue_stream(place.show_id),
        admission_token=place.admission_token,
        expires_at=place.expires_at,
    )


def _admitted(user_id: int, category_id: int, token: str | None) -> None:
    """Holds and orders of a show with a waiting room need the buyer's admission."""
    category = selectors.category_for_sale(category_id=category_id)
    if category is None:
        raise CategoryNotFound()
    waiting_room.admission_check(show_id=category.show_id, user_id=user_id, token=token)


@router.post("/holds", response={201: HoldOut})
@raises(
    CategoryNotFound,
    ShowNotOnSale,
    SoldOut,
    TooManySeats,
    HoldKeyReused,
    AdmissionRequired,
    SeatCountMismatch,
    SeatNotInCategory,
    SeatTaken,
)
def hold_create(request: HttpRequest, payload: HoldCreateIn) -> Status[Hold]:
    """Hold seats until `expires_at` (send an Idempotency-Key: a retry gets the same hold).
    A show with a waiting room needs your admission token (`POST …/shows/{id}/queue`). In a
    numbered category, name the seats you want (`seat_ids`) or get the best available."""
    user_id = principal_of(request).user_id
    _admitted(user_id, payload.category_id, payload.admission_token)
    hold = holds.hold_place(
        user_id=user_id,
        category_id=payload.category_id,
        quantity=payload.quantity,
        seat_ids=payload.seat_ids or (),
    )
    return Status(201, hold)


@router.delete("/holds/{hold_id}", response=HoldOut)
@raises(HoldNotFound)
def hold_delete(request: HttpRequest, hold_id: uuid.UUID) -> Hold:
    """Give the seats back (a hold already ended is returned as it is)."""
    return holds.hold_release(hold_id=hold_id, user_id=principal_of(request).user_id)


@router.post("/orders", response={201: OrderOut})
@raises(
    IdempotencyKeyRequired,
    OrderKeyReused,
    CategoryNotFound,
    ShowNotOnSale,
    SoldOut,
    TooManySeats,
    AdmissionRequired,
    SeatCountMismatch,
    SeatNotInCategory,
    SeatTaken,
)
def order_create(request: HttpRequest, payload: OrderCreateIn) -> Status[dict[str, Any]]:
    """Buy seats: the order starts its purchase saga. The Idempotency-Key header is required (a
    retry finds the same order). Follow `stream`'s `order.updated` frames; at
    `awaiting_payment`, read the order for the payment's client secret and confirm it with the
    provider's SDK (docs/ticketing.md, "Buying")."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise IdempotencyKeyRequired()
    user_id = principal_of(request).user_id
    _admitted(user_id, payload.category_id, payload.admission_token)
    order = orders.order_place(
        user_id=user_id,
        category_id=payload.category_id,
        quantity=payload.quantity,
        payment_method=payload.payment_method or "",
        idempotency_key=key,
        seat_ids=payload.seat_ids or (),
    )
    return Status(201, orders.order_detail(order))


@router.get("/orders", response=list[OrderSummaryOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def order_list(request: HttpRequest) -> Any:
    """Your orders, newest first."""
    return selectors.order_list(user_id=principal_of(request).user_id)


def _own_order(request: HttpRequest, order_id: uuid.UUID) -> Order:
    order = selectors.order_get(order_id=order_id, user_id=principal_of(request).user_id)
    if order is None:
        raise OrderNotFound()
    return order


@router.get("/orders/{order_id}", response=OrderOut)
@raises(OrderNotFound)
def order_get(request: HttpRequest, order_id: uuid.UUID) -> dict[str, Any]:
    """Your order with its saga's state, its payment (the client secret while it awaits your
    confirmation) and, once completed, its tickets."""
    return orders.order_detail(_own_order(request, order_id))


@router.post("/orders/{order_id}/cancel", response=OrderOut)
@raises(OrderNotFound, OrderNotCancellable)
def order_cancel(request: HttpRequest, order_id: uuid.UUID) -> dict[str, Any]:
    """Cancel your order: tickets voided, payment cancelled or refunded, seats released, at the
    saga's next step (frames follow). A completed order is refused."""
    order = orders.order_cancel(order_id=order_id, user_id=principal_of(request).user_id)
    return orders.order_detail(order)


@router.get("/tickets", response=TicketPageOut)
def ticket_list(request: HttpRequest, page: Query[PageQuery]) -> HttpResponse:
    """Your tickets with their QR tokens, oldest first. Send the last answer's ETag as
    If-None-Match: 304 when nothing changed, so an app refreshes its offline copy cheaply."""
    user_id = principal_of(request).user_id
    paged = CursorPagination(ordering=("issued_at", "id")).paginate_queryset(
        selectors.ticket_list(user_id=user_id), page, request
    )
    keys: dict[int, str] = {}
    items = []
    for ticket in paged["items"]:
        if ticket.show_id not in keys:
            keys[ticket.show_id] = selectors.show_private_key(show_id=ticket.show_id)
        items.append(
            TicketOut(
                id=ticket.pk,
                status=ticket.status,
                token=tickets.ticket_token(ticket, private_key=keys[ticket.show_id]),
                show_id=ticket.show_id,
                show_title=ticket.show.title,
                starts_at=ticket.show.starts_at,
                venue_name=ticket.show.venue.name,
                city=ticket.show.venue.city,
                category_name=ticket.category.name,
                seat=SeatRefOut.from_orm(ticket.seat) if ticket.seat is not None else None,
                issued_at=ticket.issued_at,
            )
        )
    body = TicketPageOut(items=items, next_cursor=paged["next_cursor"]).model_dump_json()
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    if etag in {tag.strip() for tag in request.META.get("HTTP_IF_NONE_MATCH", "").split(",")}:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = "private, no-cache"
    return response


@router.post("/checkins", response=CheckinsOut, auth=require_role("scanner"))
def checkin_create(request: HttpRequest, payload: CheckinsIn) -> CheckinsOut:
    """Door scans (one, or an offline batch): each ticket is admitted once; a later scan
    answers when and at which gate it was first used. First scan wins, by `scanned_at`."""
    results = checkins.checkins_record(
        show_id=payload.show_id,
        scanner_user_id=principal_of(request).user_id,
        scans=[
            checkins.Scan(token=s.token, gate=s.gate, scanned_at=s.scanned_at)
            for s in payload.scans
        ],
    )
    return CheckinsOut.model_validate({"results": [vars(result) for result in results]})
