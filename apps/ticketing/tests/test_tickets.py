"""Tickets carry a signed token a door scanner verifies offline; check-in admits each ticket
once, tells a second scan when and where the first was, and resolves offline uploads
first-scan-wins by scan time. A buyer's ticket list is cacheable (ETag → 304)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from apps.ticketing.models import CheckIn, Show, Ticket
from apps.ticketing.services import holds, tickets
from apps.ticketing.tests import factories
from apps.ticketing.tokens import TokenInvalid, token_claims_unverified, token_verify
from cleave.events import captured_events
from contracts.ticketing import TicketCheckedIn

pytestmark = pytest.mark.django_db(transaction=True)


def _bought(show: Show, *, user_id: int = 7, quantity: int = 1) -> list[Ticket]:
    category = factories.category_of(show)
    hold = holds.hold_place(user_id=user_id, category_id=category.pk, quantity=quantity)
    return tickets.tickets_issue(hold_id=hold.pk, order_ref="order-1")


def _my_tokens(api: Any) -> list[str]:
    return [item["token"] for item in api.call("get", "/tickets").json()["items"]]


def _scan(token: str, gate: str, at: datetime) -> dict[str, str]:
    return {"token": token, "gate": gate, "scanned_at": at.isoformat()}


def test_a_tickets_token_fits_a_qr_code_and_verifies_with_the_shows_public_key_only(
    as_user: Any,
) -> None:
    buyer = as_user(7)
    show, other = factories.show(), factories.show()
    [ticket] = _bought(show)
    [token] = _my_tokens(buyer)
    key = buyer.call("get", f"/shows/{show.pk}/scanner-keys").json()[0]["public_key"]

    claims = token_verify(token, public_key=key)

    assert len(token) <= 130  # QR version 7-M holds 154 bytes
    assert (claims.ticket_id, claims.show_id) == (ticket.pk, show.pk)
    with pytest.raises(TokenInvalid):
        token_verify(token, public_key=other.public_key)
    tampered = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(TokenInvalid):
        token_verify(tampered, public_key=key)


def test_a_numbered_seats_token_carries_the_seat_and_still_fits_a_qr_code(as_user: Any) -> None:
    buyer, scanner = as_user(7), as_user(90, "scanner")
    show = factories.numbered_show(rows=["ROW12345"], per_row=300)  # the longest row label
    category = factories.category_of(show)
    hold = holds.hold_place(user_id=7, category_id=category.pk, quantity=1)
    tickets.tickets_issue(hold_id=hold.pk)
    [token] = _my_tokens(buyer)

    claims = token_verify(token, public_key=show.public_key)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    stretched = (
        raw[:-66] + bytes([raw[-67] + 1]) + raw[-66:]
    )  # a byte more than its row length says
    checked = scanner.call(
        "post", "/checkins",
        {"show_id": show.pk, "scans": [_scan(token, "A", datetime.now(UTC))]},
    )  # fmt: skip

    assert (claims.seat_row, claims.seat_number) == ("ROW12345", 1)
    assert len(token) <= 150  # QR version 8-M holds 152 bytes
    assert token_claims_unverified(token) == claims
    with pytest.raises(TokenInvalid):
        token_claims_unverified(base64.urlsafe_b64encode(stretched).decode().rstrip("="))
    assert checked.json()["results"][0]["status"] == "admitted"


def test_my_tickets_answer_304_to_their_etag_until_they_change(as_user: Any) -> None:
    buyer = as_user(7)
    show = factories.show()
    _bought(show)
    first = buyer.call("get", "/tickets")
    cached = buyer.call("get", "/tickets", HTTP_IF_NONE_MATCH=first["ETag"])
    _bought(show)
    changed = buyer.call("get", "/tickets", HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert len(first.json()["items"]) == 1
    assert cached.status_code == 304
    assert changed.status_code == 200
    assert len(changed.json()["items"]) == 2
    assert as_user(8).call("get", "/tickets").json()["items"] == []


def test_a_ticket_is_admitted_once_and_a_second_scan_says_when_and_where(as_user: Any) -> None:
    buyer, scanner = as_user(7), as_user(90, "scanner")
    show = factories.show()
    _bought(show)
    [token] = _my_tokens(buyer)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)

    with captured_events() as events:
        first = scanner.call(
            "post", "/checkins", {"show_id": show.pk, "scans": [_scan(token, "A", at)]}
        )
        second = scanner.call(
            "post",
            "/checkins",
            {"show_id": show.pk, "scans": [_scan(token, "B", at + timedelta(minutes=1))]},
        )

    assert first.json()["results"][0]["status"] == "admitted"
    result = second.json()["results"][0]
    assert result["status"] == "already_used"
    assert result["first_gate"] == "A"
    assert datetime.fromisoformat(result["first_scanned_at"]) == at
    [event] = [TicketCheckedIn.model_validate_json(e.model_dump_json()) for e in events]
    assert (event.gate, event.user_id, event.show_id) == ("A", 7, show.pk)


def test_an_offline_scan_uploaded_later_wins_when_it_was_scanned_first(as_user: Any) -> None:
    buyer, online, offline = as_user(7), as_user(90, "scanner"), as_user(91, "scanner")
    show = factories.show()
    _bought(show, quantity=2)
    token_one, token_two = _my_tokens(buyer)
    now = datetime.now(UTC)

    online.call("post", "/checkins", {"show_id": show.pk, "scans": [_scan(token_one, "A", now)]})
    batch = offline.call(
        "post",
        "/checkins",
        {
            "show_id": show.pk,
            "scans": [
                _scan(token_one, "C", now - timedelta(minutes=10)),  # before gate A's scan
                _scan(token_two, "C", now - timedelta(minutes=2)),
                _scan(token_two, "C", now - timedelta(minutes=8)),  # same batch, earlier
            ],
        },
    )
    retried = offline.call(
        "post",
        "/checkins",
        {"show_id": show.pk, "scans": [_scan(token_one, "C", now - timedelta(minutes=10))]},
    )

    assert [r["status"] for r in batch.json()["results"]] == [
        "admitted",
        "already_used",
        "admitted",
    ]
    assert retried.json()["results"][0]["status"] == "admitted"
    assert sorted(CheckIn.objects.values_list("gate", flat=True)) == ["C", "C"]
    assert CheckIn.objects.get(ticket__pk=_ticket_id(token_one)).scanned_at == now - timedelta(
        minutes=10
    )


def _ticket_id(token: str) -> Any:
    from apps.ticketing.tokens import token_claims_unverified

    return token_claims_unverified(token).ticket_id


def test_void_invalid_and_other_shows_tickets_are_refused(as_user: Any) -> None:
    buyer, scanner = as_user(7), as_user(90, "scanner")
    show, elsewhere = factories.show(), factories.show()
    [ticket] = _bought(show)
    _bought(elsewhere)
    mine = {
        item["show_id"]: item["token"] for item in buyer.call("get", "/tickets").json()["items"]
    }
    tickets.tickets_void(hold_id=ticket.hold_id)
    now = datetime.now(UTC)

    answer = scanner.call(
        "post",
        "/checkins",
        {
            "show_id": show.pk,
            "scans": [
                _scan(mine[show.pk], "A", now),
                _scan(mine[elsewhere.pk], "A", now),
                _scan("not-a-ticket", "A", now),
            ],
        },
    )

    assert [r["status"] for r in answer.json()["results"]] == ["void", "wrong_show", "invalid"]
    assert CheckIn.objects.count() == 0


def test_only_scanners_check_tickets_in(as_user: Any) -> None:
    show = factories.show()
    answer = as_user(7).call(
        "post", "/checkins", {"show_id": show.pk, "scans": [_scan("x", "A", datetime.now(UTC))]}
    )
    assert answer.status_code == 403
