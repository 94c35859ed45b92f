"""ticketing's test data, made through its services (so events are published as in use)."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from apps.ticketing.models import SeatCategory, Show, Venue
from apps.ticketing.services import shows
from apps.ticketing.services.seats import seat_grid

_numbers = itertools.count(1)


def venue(*, city: str = "Paris", latitude: float = 48.8566, longitude: float = 2.3522) -> Venue:
    return shows.venue_create(
        name=f"Hall {next(_numbers)}", city=city, latitude=latitude, longitude=longitude
    )


def show(
    *,
    city: str = "Paris",
    days_ahead: int = 30,
    capacity: int = 100,
    shard_count: int = 16,
    publish: bool = True,
    title: str | None = None,
) -> Show:
    """A show with one category ("Standard", 5000 cents), published unless told otherwise."""
    starts = timezone.now() + timedelta(days=days_ahead)
    created = shows.show_create(
        venue_id=venue(city=city).pk,
        title=title or f"Show {next(_numbers)}",
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
    )
    shows.category_add(
        show_id=created.pk,
        name="Standard",
        capacity=capacity,
        price_cents=5000,
        shard_count=shard_count,
    )
    if publish:
        created = shows.show_publish(show_id=created.pk)
    return created


def numbered_show(
    *,
    rows: str | list[str] = "AB",
    per_row: int = 5,
    shard_count: int = 16,
    publish: bool = True,
) -> Show:
    """A show with one numbered category ("Stalls", 7000 cents): `rows` × `per_row` seats,
    row A the best."""
    starts = timezone.now() + timedelta(days=30)
    created = shows.show_create(
        venue_id=venue().pk,
        title=f"Show {next(_numbers)}",
        starts_at=starts,
        ends_at=starts + timedelta(hours=3),
    )
    shows.category_add(
        show_id=created.pk,
        name="Stalls",
        price_cents=7000,
        seats=seat_grid(rows=list(rows), per_row=per_row),
        shard_count=shard_count,
    )
    return shows.show_publish(show_id=created.pk) if publish else created


def category_of(show: Show) -> SeatCategory:
    return SeatCategory.objects.get(show=show)


def latest_category() -> SeatCategory:
    """The category made last (the authorization matrix's: of the show it just made)."""
    return SeatCategory.objects.latest("pk")
