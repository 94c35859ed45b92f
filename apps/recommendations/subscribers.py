"""What recommendations does when ticketing's and tracking's facts arrive: its read models.
The kernel's inbox applies each event once per subscriber; the services count accordingly."""

from __future__ import annotations

from apps.recommendations.services import signals
from cleave.events import subscriber
from contracts.identity import UserDeleted
from contracts.ticketing import OrderCancelled, ShowPublished, TicketIssued
from contracts.tracking import AreaActivity, GeofenceEntered


@subscriber(ShowPublished)
def on_show_published(event: ShowPublished) -> None:
    signals.show_record(
        show_id=event.show_id,
        title=event.title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        city=event.city,
        cell=event.h3_cell,
    )


@subscriber(TicketIssued)
def on_ticket_issued(event: TicketIssued) -> None:
    """Also takes the show off the buyer's cached list once this commits."""
    signals.ticket_record(
        ticket_id=event.ticket_id,
        user_id=event.user_id,
        show_id=event.show_id,
        order_ref=event.order_ref,
    )


@subscriber(OrderCancelled)
def on_order_cancelled(event: OrderCancelled) -> None:
    """The purchase was undone: the show goes back into the buyer's list."""
    signals.order_cancel(order_ref=event.order_id, user_id=event.user_id)


@subscriber(AreaActivity)
def on_area_activity(event: AreaActivity) -> None:
    signals.area_activity_record(cell=event.cell, hour=event.hour, visitors=event.visitors)


@subscriber(GeofenceEntered)
def on_geofence_entered(event: GeofenceEntered) -> None:
    signals.place_visit_record(
        user_id=event.user_id, geofence_id=event.geofence_id, entered_at=event.entered_at
    )


@subscriber(UserDeleted)
def on_user_deleted(event: UserDeleted) -> None:
    """Forget what recommendations kept of the account."""
    signals.user_forget(user_id=event.user_id)
