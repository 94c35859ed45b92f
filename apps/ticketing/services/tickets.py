"""Tickets: issued from a hold (its seats move from held to sold), voided (back on sale). A
numbered hold's tickets get its seats, best first; a voided ticket's seat is free again.

Both are idempotent for the purchase saga: issuing a converted hold again returns the tickets
it made; voiding tickets already void changes nothing. A hold past its expiry that no sweeper
has expired yet can still be converted: its seats were never given to anyone else.
"""

from __future__ import annotations

import uuid
from collections import Counter

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import HoldNotActive, HoldNotFound
from apps.ticketing.models import CategoryShard, Hold, Ticket
from apps.ticketing.services import seats as seating
from apps.ticketing.tokens import TicketClaims, token_sign
from cleave.databases import database_for
from cleave.events import publish
from contracts.ticketing import TicketIssued

DB = database_for("ticketing")


def tickets_issue(*, hold_id: uuid.UUID, order_ref: str = "") -> list[Ticket]:
    """Turn an active hold into one ticket a seat (TicketIssued for each)."""
    with transaction.atomic(using=DB):
        hold = selectors.hold_lock(hold_id=hold_id)
        if hold is None:
            raise HoldNotFound()
        if hold.status == Hold.Status.CONVERTED:
            return list(Ticket.objects.using(DB).filter(hold=hold).order_by("issued_at", "id"))
        if hold.status != Hold.Status.ACTIVE:
            raise HoldNotActive(details={"status": hold.status})
        category = hold.category
        seats = iter(selectors.seats_of_hold(hold_id=hold.pk) if category.numbered else ())
        tickets: list[Ticket] = []
        for shard_id, quantity in selectors.hold_shares(hold=hold):
            CategoryShard.objects.using(DB).filter(pk=shard_id).update(
                held=F("held") - quantity, sold=F("sold") + quantity
            )
            tickets += [
                Ticket(
                    id=uuid.uuid4(),
                    user_id=hold.user_id,
                    show_id=category.show_id,
                    category_id=category.pk,
                    hold=hold,
                    shard_id=shard_id,
                    seat=next(seats, None),
                    order_ref=order_ref,
                )
                for _ in range(quantity)
            ]
        Ticket.objects.using(DB).bulk_create(tickets)
        hold.status = Hold.Status.CONVERTED
        hold.ended_at = timezone.now()
        hold.save(update_fields=["status", "ended_at"])
        for ticket in tickets:
            publish(
                TicketIssued(
                    aggregate_id=str(ticket.pk),
                    ticket_id=str(ticket.pk),
                    show_id=ticket.show_id,
                    category_id=ticket.category_id,
                    user_id=ticket.user_id,
                    order_ref=order_ref,
                    seat_id=ticket.seat.pk if ticket.seat else None,
                    seat_row=ticket.seat.row if ticket.seat else None,
                    seat_number=ticket.seat.number if ticket.seat else None,
                )
            )
    return tickets


def tickets_void(*, hold_id: uuid.UUID) -> int:
    """Void the valid tickets issued from a hold (a refunded order); their seats go back on
    sale. The number voided now: 0 when called again. A ticket already used is voided too —
    the refund was decided elsewhere; the check-in stays as the record of the entry."""
    with transaction.atomic(using=DB):
        hold = selectors.hold_lock(hold_id=hold_id)
        if hold is None:
            raise HoldNotFound()
        tickets = list(
            Ticket.objects.using(DB)
            .select_for_update(no_key=True)
            .filter(hold=hold, status=Ticket.Status.VALID)
            .order_by("id")
        )
        per_shard = Counter(ticket.shard_id for ticket in tickets)
        for shard_id in sorted(per_shard):
            CategoryShard.objects.using(DB).filter(pk=shard_id).update(
                sold=F("sold") - per_shard[shard_id]
            )
        Ticket.objects.using(DB).filter(pk__in=[t.pk for t in tickets]).update(
            status=Ticket.Status.VOID, updated_at=timezone.now()
        )
        seating.seats_unsell(seat_ids=[ticket.seat_id for ticket in tickets])
    return len(tickets)


def ticket_token(ticket: Ticket, *, private_key: str) -> str:
    """The ticket's QR payload (apps.ticketing.tokens), signed with its show's key."""
    seat = ticket.seat  # selected with the ticket (selectors.ticket_list)
    return token_sign(
        TicketClaims(
            show_id=ticket.show_id,
            ticket_id=ticket.pk,
            category_id=ticket.category_id,
            seat_row=seat.row if seat is not None else None,
            seat_number=seat.number if seat is not None else None,
        ),
        private_key=private_key,
    )
