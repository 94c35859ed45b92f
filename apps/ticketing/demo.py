"""Demo data for `manage.py seed_demo` (embedded mode): a few published shows, idempotent."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from apps.ticketing.models import Show
from apps.ticketing.services import shows
from apps.ticketing.services.seats import seat_grid

# (title, venue, city, lat, lon, days from now, categories: (name, capacity, price in cents));
# a capacity given as (rows, seats per row) is a numbered category.
DEMO_SHOWS = [
    (
        "Night Sky Orchestra",
        "Philharmonie",
        "Paris",
        48.8918,
        2.3937,
        14,
        (("Stalls", ("A-T", 20), 6500), ("Balcony", 200, 3500)),
    ),
    (
        "Harbour Lights Festival",
        "Docklands Arena",
        "Hamburg",
        53.5461,
        9.9665,
        30,
        (("Standing", 2000, 4900),),
    ),
    (
        "Derby Day",
        "Stadio Centrale",
        "Milan",
        45.4781,
        9.1240,
        45,
        (("North Stand", 1500, 3000), ("VIP", 50, 25000)),
    ),
]


def seed() -> str:
    """Create the demo shows that do not exist yet; what was done, for the command's output."""
    made = 0
    for title, venue_name, city, lat, lon, days, categories in DEMO_SHOWS:
        if Show.objects.filter(title=title).exists():
            continue
        venue = shows.venue_create(name=venue_name, city=city, latitude=lat, longitude=lon)
        starts = (timezone.now() + timedelta(days=days)).replace(
            hour=19, minute=30, second=0, microsecond=0
        )
        show = shows.show_create(
            venue_id=venue.pk, title=title, starts_at=starts, ends_at=starts + timedelta(hours=3)
        )
        for name, capacity, price in categories:
            if isinstance(capacity, tuple):
                rows, per_row = capacity
                first, last = rows.split("-")
                labels = [chr(code) for code in range(ord(first), ord(last) + 1)]
                grid = seat_grid(rows=labels, per_row=per_row)
                shows.category_add(show_id=show.pk, name=name, seats=grid, price_cents=price)
            else:
                shows.category_add(show_id=show.pk, name=name, capacity=capacity, price_cents=price)
        shows.show_publish(show_id=show.pk)
        made += 1
    return f"ticketing: {made} demo show(s) created"
