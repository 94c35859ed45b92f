"""The three lists a caller asks for, each served through the layered cache (`serving`)."""

from __future__ import annotations

import h3
from django.utils import timezone

from apps.recommendations.services import ranking
from apps.recommendations.services.cache import POPULAR_KEY, cell_key, user_key
from apps.recommendations.services.serving import Served, serve, snapshot_refresh

AREA_RESOLUTION = 8


def is_area_cell(cell: str) -> bool:
    """A valid H3 cell at resolution 8 (clients send them; never trust one)."""
    try:
        return bool(h3.is_valid_cell(cell)) and h3.get_resolution(cell) == AREA_RESOLUTION
    except (TypeError, ValueError):
        return False


def cell_of(*, lat: float, lon: float) -> str:
    return str(h3.latlng_to_cell(lat, lon, AREA_RESOLUTION))


def _popular() -> list[ranking.Item]:
    return ranking.popular(now=timezone.now())


def _with_snapshot(served: Served) -> Served:
    # While the stores answer, the popular snapshot (the fallback of last resort) is kept warm.
    if not served.degraded:
        snapshot_refresh(_popular)
    return served


def for_you_serve(*, user_id: int, variant: str) -> Served:
    return _with_snapshot(
        serve(
            user_key(user_id, variant),
            lambda: ranking.for_you(user_id=user_id, variant=variant, now=timezone.now()),
        )
    )


def nearby_serve(*, cell: str) -> Served:
    return _with_snapshot(
        serve(cell_key(cell), lambda: ranking.nearby(cell=cell, now=timezone.now()))
    )


def popular_serve() -> Served:
    return serve(POPULAR_KEY, _popular)
