"""The ranking: a few weighted signals, each item carrying the reasons that put it there.

Scores are sums of small integers' logs and fixed boosts, so a reader can redo one by hand:

- `bought_together`: users who bought one of your shows also bought this one (×3 per log-unit);
- `near_your_places`: the venue is in or next to a cell you visit or bought for (+2);
- `popular`: distinct buyers (×1 per log-unit);
- `busy_area` (nearby only): the last day's visitors of the venue's cell (×0.5 per log-unit).

Variants (the experiment, docs/recommendations.md): `blend` uses every signal; `popular` ranks
by popularity alone among shows near the user's places first — the baseline a variant must beat.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import h3

from apps.recommendations import selectors
from apps.recommendations.models import Show

VARIANTS = ("blend", "popular")
DEFAULT_VARIANT = "blend"
# A list is computed this long and cut to what a caller asks (`limit` ≤ this).
MAX_ITEMS = 50
# Popular shows considered beside the co-purchased and nearby ones.
POPULAR_POOL = 200
AREA_WINDOW = timedelta(hours=24)

Item = dict[str, Any]


def _log(n: int) -> float:
    return math.log1p(max(n, 0))


def _item(show: Show, score: float, reasons: list[dict[str, str]]) -> Item:
    return {
        "show_id": show.show_id,
        "title": show.title,
        "starts_at": show.starts_at.isoformat(),
        "city": show.city,
        "cell": show.cell,
        "score": round(score, 4),
        "reasons": reasons,
    }


def _ranked(items: list[tuple[float, Show, list[dict[str, str]]]]) -> list[Item]:
    # Ties: the sooner show first, then the id, so a list is the same on every computation.
    items.sort(key=lambda row: (-row[0], row[1].starts_at, row[1].show_id))
    return [_item(show, score, reasons) for score, show, reasons in items[:MAX_ITEMS]]


def neighbourhood(cells: set[str]) -> set[str]:
    return {str(near) for cell in cells for near in h3.grid_disk(cell, 1)}


def for_you(*, user_id: int, variant: str, now: datetime) -> list[Item]:
    """Upcoming shows for a user, without what they bought or dismissed."""
    bought = selectors.shows_bought(user_id=user_id)
    excluded = bought | selectors.shows_dismissed(user_id=user_id)
    places = neighbourhood(selectors.place_cells(user_id=user_id, bought=bought))
    together = selectors.co_purchases(show_ids=bought) if variant == "blend" else {}
    pool = {show.show_id: show for show in selectors.shows_popular(now=now, limit=POPULAR_POOL)}
    wanted = set(together) - set(pool)
    near = selectors.shows_upcoming(now=now, cells=places) if places else []
    extra = selectors.shows_upcoming(now=now, show_ids=wanted) if wanted else []
    pool.update({show.show_id: show for show in [*near, *extra]})
    scored = []
    for show in pool.values():
        if show.show_id in excluded:
            continue
        score, reasons = 0.0, []
        if together.get(show.show_id):
            score += 3 * _log(together[show.show_id])
            reasons.append(
                {"code": "bought_together", "detail": f"{together[show.show_id]} co-buyers"}
            )
        if show.cell in places:
            score += 2
            reasons.append({"code": "near_your_places", "detail": show.city})
        if show.buyers:
            score += _log(show.buyers)
            reasons.append({"code": "popular", "detail": f"{show.buyers} buyers"})
        if not reasons:
            reasons.append({"code": "upcoming", "detail": show.starts_at.date().isoformat()})
        scored.append((score, show, reasons))
    return _ranked(scored)


def nearby(*, cell: str, now: datetime) -> list[Item]:
    """Upcoming shows in a cell and its neighbours, for anyone: popularity and the area's bustle."""
    cells = neighbourhood({cell})
    shows = selectors.shows_upcoming(now=now, cells=cells)
    visitors = selectors.area_visitors(cells=cells, since=now - AREA_WINDOW)
    scored = []
    for show in shows:
        here = show.cell == cell
        score = 1.0 if here else 0.5
        reasons = [{"code": "in_this_area" if here else "next_area", "detail": show.cell}]
        if show.buyers:
            score += _log(show.buyers)
            reasons.append({"code": "popular", "detail": f"{show.buyers} buyers"})
        if visitors.get(show.cell):
            score += 0.5 * _log(visitors[show.cell])
            reasons.append({"code": "busy_area", "detail": f"{visitors[show.cell]} visitors"})
        scored.append((score, show, reasons))
    return _ranked(scored)


def popular(*, now: datetime) -> list[Item]:
    """The upcoming shows with the most buyers: the anonymous list and the fallback's snapshot."""
    scored = [
        (_log(show.buyers), show, [{"code": "popular", "detail": f"{show.buyers} buyers"}])
        for show in selectors.shows_popular(now=now, limit=MAX_ITEMS)
    ]
    return _ranked(scored)
