"""recommendations's read models, fed only by other contexts' events (ids in plain fields,
never a foreign key), and its experiment records."""

from __future__ import annotations

import h3
from django.core.exceptions import ValidationError
from django.db import models


def validate_area_cell(value: str) -> None:
    """Staff type cells in the admin: an H3 cell at resolution 8, like the venues' and areas'."""
    try:
        valid = bool(h3.is_valid_cell(value)) and h3.get_resolution(value) == 8
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValidationError("Not an H3 cell at resolution 8.")


class Show(models.Model):
    """A published show as `ticketing.ShowPublished` described it, with its popularity."""

    show_id = models.BigIntegerField(unique=True)
    title = models.CharField(max_length=200)
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    city = models.CharField(max_length=120)
    cell = models.CharField(max_length=16, db_index=True)  # the venue's H3 cell, resolution 8
    buyers = models.IntegerField(default=0)  # distinct users holding a ticket

    def __str__(self) -> str:
        return self.title


class Ticket(models.Model):
    """One issued ticket (`ticketing.TicketIssued`): a user's purchases are their shows here."""

    ticket_id = models.CharField(max_length=64, unique=True)
    user_id = models.BigIntegerField()
    show_id = models.BigIntegerField()
    order_ref = models.CharField(max_length=64, db_index=True)
    cancelled = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=("user_id", "show_id"), name="recs_ticket_user_show")]

    def __str__(self) -> str:
        return self.ticket_id


class CancelledOrder(models.Model):
    """An order ticketing undid (`ticketing.OrderCancelled`): its tickets count for nothing,
    including those whose `TicketIssued` arrives after the cancellation (events of different
    aggregates may arrive in either order)."""

    order_ref = models.CharField(max_length=64, unique=True)
    user_id = models.BigIntegerField()
    cancelled_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.order_ref


class CoPurchase(models.Model):
    """How many users bought both shows; kept both ways round, so one lookup by `show_id`."""

    show_id = models.BigIntegerField()
    other_show_id = models.BigIntegerField()
    buyers = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("show_id", "other_show_id"), name="recs_copurchase")
        ]

    def __str__(self) -> str:
        return f"{self.show_id}+{self.other_show_id}: {self.buyers}"


class AreaActivity(models.Model):
    """Distinct visitors of a cell in one hour (`tracking.AreaActivity`)."""

    cell = models.CharField(max_length=16)
    hour = models.DateTimeField()
    visitors = models.IntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=("cell", "hour"), name="recs_area_hour")]
        verbose_name_plural = "area activity"

    def __str__(self) -> str:
        return f"{self.cell} {self.hour:%Y-%m-%d %H}h: {self.visitors}"


class PlaceVisit(models.Model):
    """A user's visits of a geofence (`tracking.GeofenceEntered`): the places they go."""

    user_id = models.BigIntegerField()
    geofence_id = models.BigIntegerField()
    visits = models.IntegerField(default=0)
    last_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user_id", "geofence_id"), name="recs_place_visit")
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} at geofence {self.geofence_id}: {self.visits}"


class GeofenceCell(models.Model):
    """Where a geofence lies, set by staff: `GeofenceEntered` carries the geofence's id only,
    and recommendations reads no other context's tables."""

    geofence_id = models.BigIntegerField(unique=True)
    cell = models.CharField(max_length=16, validators=[validate_area_cell])
    note = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"geofence {self.geofence_id} in {self.cell}"


class Exposure(models.Model):
    """The first time a user was shown a ranking variant: the experiment's population."""

    user_id = models.BigIntegerField()
    variant = models.CharField(max_length=40)
    first_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("user_id", "variant"), name="recs_exposure")]

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.variant}"


class Feedback(models.Model):
    KINDS = (("impression", "impression"), ("click", "click"), ("dismiss", "dismiss"))

    user_id = models.BigIntegerField(db_index=True)
    variant = models.CharField(max_length=40)
    show_id = models.BigIntegerField()
    kind = models.CharField(max_length=12, choices=KINDS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "feedback"

    def __str__(self) -> str:
        return f"{self.kind} of {self.show_id} by {self.user_id}"


class VariantStat(models.Model):
    """Counts per ranking variant, kept by the feedback service: click-through in the admin."""

    variant = models.CharField(max_length=40, unique=True)
    exposures = models.IntegerField(default=0)
    impressions = models.IntegerField(default=0)
    clicks = models.IntegerField(default=0)
    dismissals = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.variant
