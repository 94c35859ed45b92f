"""Check-in at the door: each ticket is used once; first scan wins, by the time of the scan.

A scanner online posts each scan as it happens; one that lost the network verifies tokens
offline with the show's public key, lets people in, and uploads its scans later. Scans are
resolved by `scanned_at`, not by arrival: when an uploaded scan is earlier than the one on
record, it becomes the ticket's first use (the later one, already answered "admitted", was the
duplicate: the report shows both gates). A scan uploaded twice answers the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.db import transaction
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.models import CheckIn, Ticket
from apps.ticketing.tokens import TokenInvalid, token_claims_unverified, token_verify
from cleave.databases import database_for
from cleave.events import publish
from contracts.ticketing import TicketCheckedIn

DB = database_for("ticketing")

ScanStatus = Literal["admitted", "already_used", "invalid", "void", "wrong_show"]


@dataclass(frozen=True)
class Scan:
    token: str
    gate: str
    scanned_at: datetime


@dataclass(frozen=True)
class ScanResult:
    token: str
    status: ScanStatus
    ticket_id: str | None = None
    first_scanned_at: datetime | None = None  # for already_used: when and where it was used
    first_gate: str | None = None


def checkins_record(*, show_id: int, scanner_user_id: int, scans: list[Scan]) -> list[ScanResult]:
    """Resolve a batch of scans at one show's doors, in the order they were scanned; the
    results in the order given."""
    public_key = selectors.show_public_key(show_id=show_id)
    now = timezone.now()
    order = sorted(range(len(scans)), key=lambda i: scans[i].scanned_at)
    results: dict[int, ScanResult] = {}
    for i in order:
        scan = scans[i]
        # A scanner's clock ahead of ours cannot make its scan win over later real ones.
        scanned_at = min(scan.scanned_at, now)
        results[i] = _scan_one(show_id, public_key, scanner_user_id, scan, scanned_at)
    return [results[i] for i in range(len(scans))]


def _scan_one(
    show_id: int, public_key: str | None, scanner_user_id: int, scan: Scan, scanned_at: datetime
) -> ScanResult:
    try:
        claims = token_claims_unverified(scan.token)
        if claims.show_id != show_id:
            return ScanResult(token=scan.token, status="wrong_show")
        if public_key is None:
            raise TokenInvalid("unknown show")
        claims = token_verify(scan.token, public_key=public_key)
    except TokenInvalid:
        return ScanResult(token=scan.token, status="invalid")
    with transaction.atomic(using=DB):
        ticket = selectors.ticket_lock(ticket_id=claims.ticket_id)
        if ticket is None or ticket.show_id != show_id:
            return ScanResult(token=scan.token, status="invalid")
        ticket_id = str(ticket.pk)
        if ticket.status == Ticket.Status.VOID:
            return ScanResult(token=scan.token, status="void", ticket_id=ticket_id)
        first = CheckIn.objects.using(DB).filter(ticket=ticket).first()
        if first is None:
            CheckIn.objects.using(DB).create(
                ticket=ticket,
                scanned_at=scanned_at,
                gate=scan.gate,
                scanner_user_id=scanner_user_id,
            )
            publish(
                TicketCheckedIn(
                    aggregate_id=ticket_id,
                    ticket_id=ticket_id,
                    show_id=show_id,
                    user_id=ticket.user_id,
                    gate=scan.gate,
                    scanned_at=scanned_at,
                )
            )
            return ScanResult(token=scan.token, status="admitted", ticket_id=ticket_id)
        same = (first.scanned_at, first.gate, first.scanner_user_id) == (
            scanned_at,
            scan.gate,
            scanner_user_id,
        )
        if same:  # the same scan uploaded again (a retried batch)
            return ScanResult(token=scan.token, status="admitted", ticket_id=ticket_id)
        if scanned_at < first.scanned_at:
            # An offline scan made before the one on record: it was the first use.
            first.scanned_at, first.gate, first.scanner_user_id = (
                scanned_at,
                scan.gate,
                scanner_user_id,
            )
            first.save(update_fields=["scanned_at", "gate", "scanner_user_id"])
            return ScanResult(token=scan.token, status="admitted", ticket_id=ticket_id)
        return ScanResult(
            token=scan.token,
            status="already_used",
            ticket_id=ticket_id,
            first_scanned_at=first.scanned_at,
            first_gate=first.gate,
        )
