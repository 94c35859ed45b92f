"""The catalogue: venues, shows and their seat categories (numbered or not); publishing a show."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import h3
from django.db import transaction
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import (
    CategoryInUse,
    CategoryNotFound,
    SeatLayoutInvalid,
    ShowAlreadyPublished,
    ShowIncomplete,
    ShowNotFound,
)
from apps.ticketing.models import CategoryShard, Hold, Seat, SeatCategory, Show, Ticket, Venue
from apps.ticketing.services.seats import SeatSpec, seats_create, seats_validate
from apps.ticketing.tokens import key_pair_new
from cleave.databases import database_for
from cleave.events import publish
from contracts.ticketing import ShowPublished

DB = database_for("ticketing")
H3_RESOLUTION = 8  # ~0.74 km² a cell: a neighbourhood, what "shows near me" means


def venue_create(
    *, name: str, city: str, latitude: float, longitude: float, address: str = ""
) -> Venue:
    cell = h3.latlng_to_cell(latitude, longitude, H3_RESOLUTION)
    with transaction.atomic(using=DB):
        return Venue.objects.using(DB).create(
            name=name,
            city=city,
            address=address,
            latitude=latitude,
            longitude=longitude,
            h3_cell=cell,
        )


def show_create(*, venue_id: int, title: str, starts_at: datetime, ends_at: datetime) -> Show:
    """A draft show with its own signing key pair (the private half encrypted at rest)."""
    public, private = key_pair_new()
    with transaction.atomic(using=DB):
        return Show.objects.using(DB).create(
            venue_id=venue_id,
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            public_key=public,
            private_key=private,
        )


def shard_capacities(capacity: int, shard_count: int) -> list[int]:
    """`capacity` split as evenly as it goes over `shard_count` shards (never an empty one
    unless there are fewer seats than shards)."""
    base, extra = divmod(capacity, shard_count)
    return [base + (1 if index < extra else 0) for index in range(shard_count)]


def category_add(
    *,
    show_id: int,
    name: str,
    price_cents: int,
    capacity: int | None = None,
    seats: Sequence[SeatSpec] | None = None,
    currency: str = "EUR",
    shard_count: int = 16,
) -> SeatCategory:
    """A seat category with its capacity split over counter shards. With `seats` ((row,
    number) pairs, best first: `seats.seat_grid` makes a simple hall's) it is numbered: its
    capacity is the number of seats (`capacity`, when given too, must agree), and SeatLayoutInvalid
    says what is wrong with them. Without, general admission: `capacity` seats, unnumbered. A
    small category gets fewer shards (one per seat at most): a shard of zero seats would only
    be scanned."""
    layout = seats_validate(seats, capacity=capacity) if seats is not None else None
    if layout is not None:
        capacity = len(layout)
    if capacity is None or capacity < 1:
        raise SeatLayoutInvalid(details={"reason": "empty"})
    with transaction.atomic(using=DB):
        category = SeatCategory.objects.using(DB).create(
            show_id=show_id,
            name=name,
            capacity=capacity,
            price_cents=price_cents,
            currency=currency.upper(),
            shard_count=max(1, min(shard_count, capacity)),
            numbered=layout is not None,
        )
        shards_create(category=category)
        if layout is not None:
            seats_create(category=category, seats=layout)
    return category


def shards_create(*, category: SeatCategory) -> None:
    """The category's counter shards for its capacity. Inside the caller's transaction."""
    CategoryShard.objects.using(DB).bulk_create(
        CategoryShard(category=category, index=index, capacity=seats)
        for index, seats in enumerate(shard_capacities(category.capacity, category.shard_count))
    )


def category_seats_set(*, category_id: int, seats: Sequence[SeatSpec]) -> SeatCategory:
    """Lay a category's seats out anew (a general-admission category becomes numbered): its
    seats, capacity and counter shards replaced. Only while its show is a draft (CategoryInUse
    after): the show's row lock orders this with `show_publish`, and holds need a published
    show, so no hold or ticket can refer to what is replaced."""
    layout = seats_validate(seats)
    with transaction.atomic(using=DB):
        category = SeatCategory.objects.using(DB).filter(pk=category_id).first()
        if category is None:
            raise CategoryNotFound()
        show = selectors.show_lock(show_id=category.show_id)
        if show is None or show.status != Show.Status.DRAFT or _in_use(category.pk):
            raise CategoryInUse()
        Seat.objects.using(DB).filter(category=category).delete()
        CategoryShard.objects.using(DB).filter(category=category).delete()
        category.capacity = len(layout)
        category.numbered = True
        category.shard_count = max(1, min(category.shard_count, category.capacity))
        category.save(update_fields=["capacity", "numbered", "shard_count"])
        shards_create(category=category)
        seats_create(category=category, seats=layout)
    return category


def _in_use(category_id: int) -> bool:
    return (
        Hold.objects.using(DB).filter(category_id=category_id).exists()
        or Ticket.objects.using(DB).filter(category_id=category_id).exists()
    )


def show_publish(*, show_id: int) -> Show:
    """Put a draft show on sale and tell the others (`ShowPublished`, through the outbox)."""
    with transaction.atomic(using=DB):
        show = (
            Show.objects.using(DB)
            .select_for_update(no_key=True)
            .select_related("venue")
            .filter(pk=show_id)
            .first()
        )
        if show is None:
            raise ShowNotFound()
        if show.status == Show.Status.PUBLISHED:
            raise ShowAlreadyPublished()
        if not SeatCategory.objects.using(DB).filter(show_id=show_id).exists():
            raise ShowIncomplete()
        show.status = Show.Status.PUBLISHED
        show.published_at = timezone.now()
        show.save(update_fields=["status", "published_at"])
        publish(
            ShowPublished(
                aggregate_id=str(show.pk),
                show_id=show.pk,
                title=show.title,
                starts_at=show.starts_at,
                ends_at=show.ends_at,
                venue_id=show.venue_id,
                city=show.venue.city,
                h3_cell=show.venue.h3_cell,
            )
        )
    return show
