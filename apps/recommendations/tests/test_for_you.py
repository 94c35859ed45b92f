"""A user's list: co-purchases, places and popularity, each with its reasons; what they
bought leaves it as soon as the purchase event is applied; past shows never appear."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from apps.recommendations.models import Show, Ticket
from apps.recommendations.tests import factories
from cleave.databases import database_for
from cleave.events.consumer import deliver
from cleave.events.subscribers import subscribers

DB = database_for("recommendations")

pytestmark = pytest.mark.django_db(transaction=True)
Get = Callable[..., Any]


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["show_id"] for item in response.json()["items"]]


def test_a_show_bought_with_yours_comes_first_with_its_reason(get: Get) -> None:
    rock, jazz, opera = factories.show(), factories.show(), factories.show(at=factories.LYON)
    for other_user in (2, 3):  # two people bought rock and opera together
        factories.ticket(user_id=other_user, show_id=rock)
        factories.ticket(user_id=other_user, show_id=opera)
    factories.ticket(user_id=1, show_id=rock)

    answer = get("/api/v1/recommendations", user_id=1)

    assert _ids(answer) == [opera, jazz]  # rock is bought: gone
    first = answer.json()["items"][0]
    assert [reason["code"] for reason in first["reasons"]] == ["bought_together", "popular"]
    assert answer.json()["degraded"] is False
    assert answer.json()["variant"] == "blend"


def test_past_shows_are_never_recommended(get: Get) -> None:
    factories.show(starts_in=timedelta(days=-1))
    upcoming = factories.show()
    assert _ids(get("/api/v1/recommendations", user_id=1)) == [upcoming]


def test_a_purchase_removes_the_show_from_the_buyers_cached_list(get: Get) -> None:
    first, second = factories.show(), factories.show()
    before = get("/api/v1/recommendations", user_id=1)
    assert set(_ids(before)) == {first, second}

    factories.ticket(user_id=1, show_id=first)  # applied on commit, which invalidates

    assert _ids(get("/api/v1/recommendations", user_id=1)) == [second]


def test_a_redelivered_ticket_and_a_second_seat_count_one_buyer() -> None:
    show_id = factories.show()
    event = factories.ticket(user_id=1, show_id=show_id)
    on_ticket = subscribers.get("recommendations.on_ticket_issued")
    assert deliver(DB, on_ticket, {"envelope": event.envelope()}) is None  # the inbox drops it
    factories.ticket(user_id=1, show_id=show_id)  # a second seat: still one buyer
    assert Ticket.objects.filter(show_id=show_id).count() == 2
    assert Show.objects.get(show_id=show_id).buyers == 1


def test_an_unchanged_list_answers_304_to_its_etag(get: Get) -> None:
    factories.show()
    first = get("/api/v1/recommendations", user_id=1)
    again = get("/api/v1/recommendations", user_id=1, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
