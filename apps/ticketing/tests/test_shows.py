"""Shows are browsed by date and city, with their categories' seats left; publishing one tells
the others (ShowPublished with the venue's H3 cell); drafts stay unseen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import h3
import pytest
from django.utils import timezone

from apps.ticketing import demo
from apps.ticketing.models import Show
from apps.ticketing.services import holds, shows
from apps.ticketing.tests import factories
from cleave.contracts.registry import client
from cleave.events import captured_events
from cleave.testing.queries import queries_of
from contracts.ticketing import TICKETING, ShowPublished, ShowsGet, TicketingService

pytestmark = pytest.mark.django_db(transaction=True)


def test_publishing_a_show_publishes_its_dates_and_the_venues_res8_cell() -> None:
    draft = factories.show(publish=False, city="Lyon")
    with captured_events() as events:
        shows.show_publish(show_id=draft.pk)
    [event] = events
    assert isinstance(event, ShowPublished)
    round_trip = ShowPublished.model_validate_json(event.model_dump_json())
    assert round_trip.show_id == draft.pk
    assert round_trip.starts_at == draft.starts_at
    assert round_trip.city == "Lyon"
    assert round_trip.h3_cell == h3.latlng_to_cell(48.8566, 2.3522, 8)
    assert h3.get_resolution(round_trip.h3_cell) == 8
    assert Show.objects.get(pk=draft.pk).status == "published"


def test_a_show_without_categories_cannot_be_published() -> None:
    venue = factories.venue()
    now = timezone.now()
    draft = shows.show_create(
        venue_id=venue.pk, title="Empty", starts_at=now, ends_at=now + timedelta(hours=1)
    )
    with pytest.raises(Exception, match="at least one seat category"):
        shows.show_publish(show_id=draft.pk)


def test_shows_are_listed_soonest_first_filtered_by_city_and_dates(as_user: Any) -> None:
    buyer = as_user(1)
    late = factories.show(city="Paris", days_ahead=20, title="late")
    early = factories.show(city="Paris", days_ahead=10, title="early")
    factories.show(city="Berlin", days_ahead=15, title="berlin")
    factories.show(city="Paris", days_ahead=12, publish=False, title="draft")

    everything = buyer.call("get", "/shows").json()
    paris = buyer.call("get", "/shows?city=paris").json()
    window_start = (timezone.now() + timedelta(days=14)).isoformat()
    after = buyer.call("get", f"/shows?starts_after={window_start.replace('+', '%2B')}").json()

    assert [s["title"] for s in everything["items"]] == ["early", "berlin", "late"]
    assert [s["id"] for s in paris["items"]] == [early.pk, late.pk]
    assert [s["title"] for s in after["items"]] == ["berlin", "late"]
    assert everything["items"][0]["venue"]["h3_cell"]


def test_the_show_list_pages_with_a_cursor_in_a_bounded_number_of_queries(as_user: Any) -> None:
    buyer = as_user(1)
    for days in range(1, 6):
        factories.show(days_ahead=days)
    answer, queries = queries_of(lambda: buyer.call("get", "/shows?limit=3"))
    first = answer.json()
    ticketing_queries = [sql for sql in queries if "ticketing_" in sql]
    assert len(ticketing_queries) == 1, ticketing_queries  # shows joined with their venues
    second = buyer.call("get", f"/shows?limit=3&cursor={first['next_cursor']}").json()
    assert len(first["items"]) == 3
    assert len(second["items"]) == 2
    assert second["next_cursor"] is None


def test_a_show_answers_with_its_categories_and_seats_left(as_user: Any) -> None:
    buyer = as_user(1)
    show = factories.show(capacity=10)
    holds.hold_place(user_id=2, category_id=factories.category_of(show).pk, quantity=3)

    detail = buyer.call("get", f"/shows/{show.pk}")

    assert detail.status_code == 200, detail.content
    [category] = detail.json()["categories"]
    assert (category["capacity"], category["available"]) == (10, 7)


def test_a_draft_show_is_not_found(as_user: Any) -> None:
    draft = factories.show(publish=False)
    answer = as_user(1).call("get", f"/shows/{draft.pk}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "show_not_found"


def test_scanner_keys_are_the_shows_public_key(as_user: Any) -> None:
    show = factories.show()
    keys = as_user(1).call("get", f"/shows/{show.pk}/scanner-keys").json()
    assert keys == [{"show_id": show.pk, "algorithm": "Ed25519", "public_key": show.public_key}]


def test_the_contract_summarises_published_shows_only() -> None:
    published = factories.show(capacity=5)
    draft = factories.show(publish=False)
    answer = client(TICKETING, TicketingService).shows_get(
        ShowsGet(show_ids=[published.pk, draft.pk])
    )
    assert [(s.show_id, s.available) for s in answer.shows] == [(published.pk, 5)]


def test_the_demo_data_makes_the_demo_shows_once() -> None:
    """`manage.py seed_demo` (embedded mode only) calls it; `make run` runs that."""
    demo.seed()
    demo.seed()
    assert Show.objects.filter(status="published").count() == len(demo.DEMO_SHOWS)
