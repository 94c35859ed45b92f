"""Recommendations as a phone app reads them, over HTTP only (issue 22): a signed-in list with
its reasons and variant, the anonymous nearby list by cell, and a show the buyer has just
bought leaving their list within seconds (ticketing's events reach recommendations).

Buying needs a deployment that sells: the monolith this suite starts does; another one
(`CLEAVE_E2E_URL`) takes part with `CLEAVE_E2E_PAYMENTS=1`, as test_purchase.py.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from client import Api, User, expect, poll

SELLS = not os.environ.get("CLEAVE_E2E_URL") or os.environ.get("CLEAVE_E2E_PAYMENTS") == "1"


def _listed(api: Api, who: User) -> list[dict[str, Any]]:
    listed = expect(api.as_(who).get("/api/v1/recommendations?limit=50"), 200)
    assert listed["degraded"] is False, listed
    assert listed["variant"], listed
    return list(listed["items"])


def test_the_anonymous_nearby_list_is_the_cells_and_answers_304_to_its_etag(api: Api) -> None:
    paris = expect(api.get("/api/v1/recommendations/nearby?lat=48.8566&lon=2.3522"), 200)
    cell = paris["cell"]
    by_cell = api.get(f"/api/v1/recommendations/nearby/cells/{cell}")
    assert expect(by_cell, 200)["items"] == paris["items"]
    again = api.get(
        f"/api/v1/recommendations/nearby/cells/{cell}",
        headers={"If-None-Match": by_cell.headers["ETag"]},
    )
    assert again.status_code == 304
    assert api.get("/api/v1/recommendations/nearby/cells/not-a-cell").status_code in (400, 422)


@pytest.mark.skipif(not SELLS, reason="this deployment sells only with CLEAVE_E2E_PAYMENTS=1")
def test_a_show_the_buyer_just_bought_leaves_their_list(api: Api, bob: User) -> None:
    before = _listed(api, bob)
    assert before, "make run seeds shows (seed_demo), and recommendations hears of them"
    assert all(item["reasons"] for item in before)  # every item says why
    show_id = before[0]["show_id"]
    show = expect(api.as_(bob).get(f"/api/v1/ticketing/shows/{show_id}"), 200)
    body = {
        "category_id": show["categories"][0]["id"],
        "quantity": 1,
        "payment_method": "pm_card_visa",  # a saved card: no confirmation step
    }
    placed = expect(
        api.as_(bob).post(
            "/api/v1/ticketing/orders", body, headers={"Idempotency-Key": uuid.uuid4().hex}
        ),
        201,
    )

    def completed() -> dict[str, Any] | None:
        order = expect(api.as_(bob).get(f"/api/v1/ticketing/orders/{placed['id']}"), 200)
        return order if order["status"] in ("completed", "cancelled") else None

    assert poll(completed, what="the order to finish", timeout=30)["status"] == "completed"
    poll(
        lambda: True if show_id not in {i["show_id"] for i in _listed(api, bob)} else None,
        what=f"show {show_id} to leave bob's recommendations",
        timeout=15,
    )
