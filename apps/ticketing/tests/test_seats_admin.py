"""The admin lays a draft's category out as numbered seats through the service (never a raw
save), refuses one on sale, and shows a category's seats, free, held or sold."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.ticketing.admin import row_labels
from apps.ticketing.models import CategoryShard, Seat
from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/ticketing/seatcategory/"


@pytest.fixture
def staff() -> Client:
    # identity's user model when identity is hosted here, Django's own when ticketing runs alone.
    user_model = get_user_model()
    root = user_model.objects.create_superuser(
        **{user_model.USERNAME_FIELD: "root@example.com", "password": "x" * 20}
    )
    browser = Client()
    browser.force_login(root)
    return browser


def _lay_out(staff: Client, category_id: int, rows: str, per_row: int) -> str:
    answer = staff.post(
        CHANGELIST,
        {"action": "lay_out_seats", "_selected_action": [category_id], "rows": rows,
         "per_row": per_row},
        follow=True,
    )  # fmt: skip
    assert answer.status_code == 200
    return answer.content.decode()


def test_rows_are_given_as_a_range_or_a_list() -> None:
    assert row_labels("A-D") == ["A", "B", "C", "D"]
    assert row_labels("AA, BB CC") == ["AA", "BB", "CC"]


def test_the_layout_action_numbers_a_drafts_category_and_refuses_one_on_sale(
    staff: Client,
) -> None:
    draft = factories.category_of(factories.show(publish=False, capacity=50))
    on_sale = factories.category_of(factories.show(capacity=50))

    laid = _lay_out(staff, draft.pk, "A-C", 4)
    page = _lay_out(staff, on_sale.pk, "A-C", 4)

    draft.refresh_from_db()
    assert (draft.numbered, draft.capacity, Seat.objects.filter(category=draft).count()) == (
        True, 12, 12,
    )  # fmt: skip
    assert (
        sum(CategoryShard.objects.filter(category=draft).values_list("capacity", flat=True)) == 12
    )
    assert "1 categor(ies) laid out." in laid
    assert "its seats can no longer change" in page
    assert not Seat.objects.filter(category=on_sale).exists()


def test_an_empty_layout_is_refused_with_its_reason(staff: Client) -> None:
    draft = factories.category_of(factories.show(publish=False, capacity=5))
    page = _lay_out(staff, draft.pk, "", 4)
    assert "The seat layout is not valid (empty)" in page
    draft.refresh_from_db()
    assert (draft.numbered, draft.capacity) == (False, 5)


def test_a_categorys_seats_are_listed_free_held_or_sold(staff: Client) -> None:
    category = factories.category_of(factories.numbered_show(rows="A", per_row=3))
    tickets.tickets_issue(
        hold_id=holds.hold_place(user_id=1, category_id=category.pk, quantity=1).pk
    )
    holds.hold_place(user_id=2, category_id=category.pk, quantity=1)
    seats = f"/admin/ticketing/seat/?category__id__exact={category.pk}"

    detail = staff.get(f"{CHANGELIST}{category.pk}/change/").content.decode()
    free = staff.get(f"{seats}&state=free").context["cl"].result_count
    held = staff.get(f"{seats}&state=held").context["cl"].result_count
    sold = staff.get(f"{seats}&state=sold").context["cl"].result_count

    assert "3 seats" in detail
    assert (free, held, sold) == (1, 1, 1)
