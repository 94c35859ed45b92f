"""Across contexts, in process: shows published by ticketing appear in recommendations, and a
ticket bought through ticketing's services takes its show off the buyer's cached list, through
the event bus alone (ShowPublished, TicketIssued)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client, override_settings

from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories
from cleave.auth.testing import Signer, token_signer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _bus_in_process() -> Iterator[None]:
    with override_settings(CLEAVE_EVENTS_INPROCESS=True):
        yield


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


def _recommended(sign: Signer, user_id: int) -> list[int]:
    answer = Client().get(
        "/api/v1/recommendations", HTTP_AUTHORIZATION=f"Bearer {sign(user_id=user_id)}"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["degraded"] is False
    return [item["show_id"] for item in answer.json()["items"]]


def test_a_purchased_show_drops_out_of_the_buyers_recommendations(sign: Signer) -> None:
    wanted, other = factories.show(), factories.show()
    assert set(_recommended(sign, 7)) == {wanted.pk, other.pk}  # now cached for user 7

    hold = holds.hold_place(user_id=7, category_id=factories.category_of(wanted).pk, quantity=2)
    tickets.tickets_issue(hold_id=hold.pk, order_ref="order-e2e")

    assert _recommended(sign, 7) == [other.pk]
    assert _recommended(sign, 8)[0] == wanted.pk  # for others it is now the popular one
