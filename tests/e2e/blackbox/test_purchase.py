"""Buying a ticket as a phone app does, over HTTP only: browse a seeded show, place an order
(Idempotency-Key), wait for `awaiting_payment`, read the client secret, confirm (test mode),
get tickets, and a door scanner (a role staff grant through the ops API) admits one once; the
decline and cancel walks end cancelled with the seats back. A deployment whose provider has no
test-mode confirmation (a live Stripe key) skips the walks that need it.

The monolith this suite starts (embedded mode) sells with its in-process test provider. Another
deployment (`CLEAVE_E2E_URL`) takes part only with `CLEAVE_E2E_PAYMENTS=1`: it must have a
provider that answers (the fake Stripe server, docs/payments.md), which `make split` does not
set up yet — without one an order never reaches `awaiting_payment`.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from client import Api, User, error_of, expect, poll

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("CLEAVE_E2E_URL")) and os.environ.get("CLEAVE_E2E_PAYMENTS") != "1",
    reason="a deployment given by CLEAVE_E2E_URL sells only with CLEAVE_E2E_PAYMENTS=1",
)


def _category(api: Api, who: User) -> tuple[int, int]:
    """The first seeded show's first category: (show id, category id)."""
    shows = expect(api.as_(who).get("/api/v1/ticketing/shows"), 200)["items"]
    assert shows, "make run seeds shows (seed_demo)"
    show = expect(api.as_(who).get(f"/api/v1/ticketing/shows/{shows[0]['id']}"), 200)
    return int(show["id"]), int(show["categories"][0]["id"])


def _available(api: Api, who: User, show_id: int) -> int:
    show = expect(api.as_(who).get(f"/api/v1/ticketing/shows/{show_id}"), 200)
    return int(show["categories"][0]["available"])


def _place(api: Api, who: User, category_id: int, **extra: Any) -> dict[str, Any]:
    body = {"category_id": category_id, "quantity": 1, **extra}
    key = {"Idempotency-Key": uuid.uuid4().hex}
    placed: dict[str, Any] = expect(
        api.as_(who).post("/api/v1/ticketing/orders", body, headers=key), 201
    )
    return placed


def _until(api: Api, who: User, order_id: str, *statuses: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        order: dict[str, Any] = expect(
            api.as_(who).get(f"/api/v1/ticketing/orders/{order_id}"), 200
        )
        return order if order["status"] in statuses else None

    return poll(check, what=f"order {order_id} to be {' or '.join(statuses)}", timeout=30)


def _confirm(api: Api, who: User, intent_id: int, method: str) -> Any:
    answer = api.as_(who).post(
        f"/api/v1/payments/intents/{intent_id}/test-confirm", {"payment_method": method}
    )
    if answer.status_code == 403:
        pytest.skip("this deployment's provider has no test-mode confirmation")
    return answer


@pytest.fixture(scope="module")
def door(api: Api, admin: Api) -> User:
    """The door's account: its sessions end when staff change its roles, so it is its own."""
    return api.register("door", vouched_by=admin)


def test_a_buyer_confirms_the_payment_and_gets_a_ticket_which_the_door_admits_once(
    api: Api, admin: Api, alice: User, door: User
) -> None:
    show_id, category_id = _category(api, alice)
    before = _available(api, alice, show_id)

    placed = _place(api, alice, category_id)
    awaiting = _until(api, alice, placed["id"], "awaiting_payment")
    assert awaiting["payment"]["client_secret"]
    _confirm(api, alice, awaiting["payment"]["intent_id"], "pm_card_visa")
    done = _until(api, alice, placed["id"], "completed", "cancelled")

    assert done["status"] == "completed", done
    assert done["payment"]["status"] == "succeeded"
    tickets = expect(api.as_(alice).get("/api/v1/ticketing/tickets"), 200)["items"]
    assert set(done["ticket_ids"]) <= {ticket["id"] for ticket in tickets}
    assert _available(api, alice, show_id) == before - 1
    ticket = next(ticket for ticket in tickets if ticket["id"] in done["ticket_ids"])
    _check_in(api, admin, door, show_id, ticket["token"])


def _check_in(api: Api, admin: Api, door: User, show_id: int, token: str) -> None:
    """Staff make the door's account a scanner (the ops API), it signs in again (tokens carry
    roles) and scans the ticket: admitted, then already used at its gate."""
    roles = f"/api/ops/users/{door.id}/roles/"
    assert expect(admin.put(roles, {"roles": ["scanner"]}), 200)["roles"] == ["scanner", "user"]
    try:
        scanner = api.as_(api.login(door.email, door.password, label="door"))
        keys = expect(scanner.get(f"/api/v1/ticketing/shows/{show_id}/scanner-keys"), 200)
        assert keys[0]["algorithm"] == "Ed25519"
        scan = {"token": token, "gate": "A", "scanned_at": "2030-01-01T20:00:00Z"}
        body = {"show_id": show_id, "scans": [scan]}
        first = expect(scanner.post("/api/v1/ticketing/checkins", body), 200)["results"][0]
        again = expect(scanner.post("/api/v1/ticketing/checkins", body), 200)["results"][0]
        assert first["status"] == "admitted", first
        assert (again["status"], again["first_gate"]) == ("already_used", "A"), again
        refused = api.as_(door).post("/api/v1/ticketing/checkins", body)  # its first token
        assert refused.status_code == 401, refused.text  # signed out when its roles changed
    finally:
        expect(admin.put(roles, {"roles": []}), 200)


def test_a_declined_card_cancels_the_order_and_gives_the_seat_back(api: Api, alice: User) -> None:
    show_id, category_id = _category(api, alice)
    before = _available(api, alice, show_id)

    placed = _place(api, alice, category_id)
    awaiting = _until(api, alice, placed["id"], "awaiting_payment")
    declined = _confirm(api, alice, awaiting["payment"]["intent_id"], "pm_card_chargeDeclined")
    order = _until(api, alice, placed["id"], "cancelled")

    assert error_of(declined, 402)["code"] == "payments.declined"
    assert order["reason"] == "declined"
    assert _available(api, alice, show_id) == before


def test_a_buyer_cancels_before_paying(api: Api, alice: User, bob: User) -> None:
    show_id, category_id = _category(api, alice)
    before = _available(api, alice, show_id)
    placed = _place(api, alice, category_id)
    _until(api, alice, placed["id"], "awaiting_payment")

    hidden = api.as_(bob).post(f"/api/v1/ticketing/orders/{placed['id']}/cancel")
    expect(api.as_(alice).post(f"/api/v1/ticketing/orders/{placed['id']}/cancel"), 200)
    order = _until(api, alice, placed["id"], "cancelled")

    assert error_of(hidden, 404)["code"] == "order_not_found"
    assert (order["reason"], order["payment"]["status"]) == ("cancelled", "canceled")
    assert _available(api, alice, show_id) == before
    assert error_of(api.as_(alice).post("/api/v1/ticketing/orders", {}), 422)
