"""The read models: places from geofence visits (placed by staff in the admin), and the
periodic batch that counts popularity and co-purchases again from the tickets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.recommendations.models import CoPurchase, GeofenceCell, PlaceVisit, Show, Ticket
from apps.recommendations.tasks import PERIODIC_TASK
from apps.recommendations.tests import factories
from cleave.background import task_named
from contracts.identity import UserDeleted

pytestmark = pytest.mark.django_db(transaction=True)
Get = Callable[..., Any]


def test_a_visited_geofence_placed_by_staff_makes_nearby_shows_yours(get: Get) -> None:
    user_model = get_user_model()
    root = user_model.objects.create_superuser(
        **{user_model.USERNAME_FIELD: "root@example.com", "password": "x" * 20}
    )
    staff = Client()
    staff.force_login(root)
    lyon = factories.cell_at(factories.LYON)
    refused = staff.post(
        "/admin/recommendations/geofencecell/add/", {"geofence_id": 5, "cell": "x"}
    )
    assert "Not an H3 cell at resolution 8." in refused.content.decode()
    placed = staff.post(
        "/admin/recommendations/geofencecell/add/",
        {"geofence_id": 5, "cell": lyon, "note": "Lyon station"},
    )
    assert placed.status_code == 302, placed.content[:500]
    assert GeofenceCell.objects.get(geofence_id=5).cell == lyon
    popular_in_paris = factories.show(at=factories.PARIS)
    factories.ticket(user_id=9, show_id=popular_in_paris)
    in_lyon = factories.show(at=factories.LYON)

    factories.geofence_entered(user_id=1, geofence_id=5)  # invalidates user 1's list

    items = get("/api/v1/recommendations", user_id=1).json()["items"]
    assert [item["show_id"] for item in items] == [in_lyon, popular_in_paris]
    assert [r["code"] for r in items[0]["reasons"]] == ["near_your_places"]


def test_the_batch_counts_popularity_and_co_purchases_again_from_the_tickets() -> None:
    rock, jazz = factories.show(), factories.show()
    for user_id in (1, 2):
        factories.ticket(user_id=user_id, show_id=rock)
        factories.ticket(user_id=user_id, show_id=jazz)
    # A drift of the incremental counts (say a lost update): the batch repairs it.
    Show.objects.filter(show_id=rock).update(buyers=7)
    CoPurchase.objects.filter(show_id=jazz).delete()

    result = task_named(PERIODIC_TASK).apply().get()

    assert result == {"shows": 2, "pairs": 2, "areas_dropped": 0}
    assert Show.objects.get(show_id=rock).buyers == 2
    pairs = set(CoPurchase.objects.values_list("show_id", "other_show_id", "buyers"))
    assert pairs == {(rock, jazz, 2), (jazz, rock, 2)}


def test_a_deleted_account_is_forgotten() -> None:
    show_id = factories.show()
    factories.ticket(user_id=1, show_id=show_id)
    factories.ticket(user_id=2, show_id=show_id)
    factories.geofence_entered(user_id=1, geofence_id=5)

    factories.published(UserDeleted(aggregate_id="1", user_id=1))

    assert list(Ticket.objects.values_list("user_id", flat=True)) == [2]
    assert not PlaceVisit.objects.filter(user_id=1).exists()


def test_a_cancelled_order_gives_the_show_back_in_either_order_of_events(get: Get) -> None:
    rock, jazz, folk = factories.show(), factories.show(), factories.show()
    factories.ticket(user_id=1, show_id=rock, order_ref="order-rock")
    factories.ticket(user_id=1, show_id=jazz, order_ref="order-jazz")
    assert rock not in _listed(get, 1)
    assert Show.objects.get(show_id=rock).buyers == 1
    assert CoPurchase.objects.get(show_id=rock, other_show_id=jazz).buyers == 1

    factories.order_cancelled(order_ref="order-rock", user_id=1, show_id=rock)
    factories.order_cancelled(order_ref="order-rock", user_id=1, show_id=rock)  # redelivered

    assert rock in _listed(get, 1)  # back in the list, its counts undone once
    assert Show.objects.get(show_id=rock).buyers == 0
    assert CoPurchase.objects.get(show_id=rock, other_show_id=jazz).buyers == 0
    assert CoPurchase.objects.get(show_id=jazz, other_show_id=rock).buyers == 0
    # A cancellation that overtook its order's TicketIssued: the late ticket counts for nothing.
    factories.order_cancelled(order_ref="order-folk", user_id=1, show_id=folk)
    factories.ticket(user_id=1, show_id=folk, order_ref="order-folk")
    assert folk in _listed(get, 1)
    assert Show.objects.get(show_id=folk).buyers == 0
    assert Ticket.objects.get(order_ref="order-folk").cancelled


def _listed(get: Get, user_id: int) -> list[int]:
    return [
        item["show_id"] for item in get("/api/v1/recommendations", user_id=user_id).json()["items"]
    ]
