"""recommendations's test data: other contexts' events published as they would publish them
(in a transaction on their alias, through the outbox), so the subscribers apply them as in use."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

import h3
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cleave.contracts.base import Event
from cleave.databases import database_for
from cleave.events import publish
from cleave.events.consumer import deliver
from cleave.events.subscribers import subscribers
from contracts.ticketing import OrderCancelled, ShowPublished, TicketIssued
from contracts.tracking import AreaActivity, GeofenceEntered

PARIS = (48.8566, 2.3522)
LYON = (45.7640, 4.8357)
_ids = itertools.count(1000)


def cell_at(point: tuple[float, float]) -> str:
    return str(h3.latlng_to_cell(point[0], point[1], 8))


def published(event: Event) -> Event:
    """Publish as its context would; in real mode (no events worker under a context's tests)
    apply it to recommendations's subscribers here, through the kernel's inbox as the worker
    does. Embedded mode delivered it on commit already."""
    context = event.event_type.split(".", 1)[0]
    with transaction.atomic(using=database_for(context)):
        publish(event)
    if not settings.CLEAVE_EVENTS_INPROCESS:
        for handler in subscribers.for_type(event.event_type):
            if handler.context == "recommendations":
                error = deliver(
                    database_for("recommendations"), handler, {"envelope": event.envelope()}
                )
                assert error is None, error
    return event


def show(
    *,
    show_id: int | None = None,
    at: tuple[float, float] = PARIS,
    starts_in: timedelta = timedelta(days=7),
    title: str | None = None,
) -> int:
    show_id = show_id or next(_ids)
    starts_at = timezone.now() + starts_in
    published(
        ShowPublished(
            aggregate_id=str(show_id),
            show_id=show_id,
            title=title or f"show {show_id}",
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=2),
            venue_id=1,
            city="Paris" if at == PARIS else "Lyon",
            h3_cell=cell_at(at),
        )
    )
    return show_id


def ticket(
    *, user_id: int, show_id: int, ticket_id: str | None = None, order_ref: str | None = None
) -> TicketIssued:
    ticket_id = ticket_id or uuid.uuid4().hex
    event = TicketIssued(
        aggregate_id=ticket_id,
        ticket_id=ticket_id,
        show_id=show_id,
        category_id=1,
        user_id=user_id,
        order_ref=order_ref or f"order-{ticket_id[:8]}",
    )
    published(event)
    return event


def order_cancelled(*, order_ref: str, user_id: int, show_id: int) -> OrderCancelled:
    event = OrderCancelled(
        aggregate_id=order_ref, order_id=order_ref, user_id=user_id, show_id=show_id,
        reason="cancelled",
    )  # fmt: skip
    published(event)
    return event


def area_activity(*, cell: str, visitors: int, hour: datetime | None = None) -> None:
    hour = hour or timezone.now().replace(minute=0, second=0, microsecond=0)
    published(AreaActivity(aggregate_id=f"{cell}:{hour}", cell=cell, hour=hour, visitors=visitors))


def geofence_entered(*, user_id: int, geofence_id: int) -> None:
    visit = uuid.uuid4().hex
    published(
        GeofenceEntered(
            aggregate_id=visit,
            visit_id=visit,
            geofence_id=geofence_id,
            user_id=user_id,
            entered_at=timezone.now(),
        )
    )
