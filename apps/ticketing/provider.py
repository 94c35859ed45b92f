"""ticketing's implementation of its contract: contract models in, contract models out."""

from __future__ import annotations

from apps.ticketing import selectors
from contracts.ticketing import ShowsGet, ShowSummaries, ShowSummary


class TicketingProvider:
    def shows_get(self, query: ShowsGet) -> ShowSummaries:
        shows = list(selectors.show_list(show_ids=query.show_ids))
        available = selectors.shows_available(show_ids=[show.pk for show in shows])
        return ShowSummaries(
            shows=[
                ShowSummary(
                    show_id=show.pk,
                    title=show.title,
                    status="published",
                    starts_at=show.starts_at,
                    ends_at=show.ends_at,
                    venue_name=show.venue.name,
                    city=show.venue.city,
                    h3_cell=show.venue.h3_cell,
                    available=available.get(show.pk, 0),
                )
                for show in shows
            ]
        )
