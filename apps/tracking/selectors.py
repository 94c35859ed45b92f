"""tracking's reads (the read models answer the API; the event store answers the aggregate)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connections
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from apps.tracking.models import AreaCount, Batch, Consent, LastLocation, Share, Trip
from cleave.contracts.registry import client
from cleave.databases import database_for
from contracts.messaging import MESSAGING, ConversationGet, MembershipsGet, MessagingService

DB = database_for("tracking")


def consent_get(*, user_id: int) -> Consent | None:
    return Consent.objects.using(DB).filter(user_id=user_id).first()


def consent_granted(*, user_id: int) -> bool:
    return Consent.objects.using(DB).filter(user_id=user_id, granted=True).exists()


def consent_lock(*, user_id: int) -> Consent | None:
    """The user's consent row, locked: the caller must hold a transaction. Every write of a
    user's tracking data holds it, so a revocation waits for uploads in flight and none
    passes after it."""
    return Consent.objects.using(DB).select_for_update().filter(user_id=user_id).first()


@dataclass(frozen=True)
class UploadGate:
    """What an upload reads with the user's consent row lock, in the same statement."""

    granted: bool  # False too when the user was never asked
    sharing: bool  # a live share is on
    recorded: bool  # this batch_id has its ledger row


# Raw SQL: built by the ORM (two Exists), this statement took longer to compile than the
# database took to lock and answer (bench/tracking/single.py). The share test is
# `shares_active`'s; test_shares covers both.
_UPLOAD_GATE = (
    "SELECT user_id, granted, changed_at, "
    "EXISTS (SELECT 1 FROM tracking_share WHERE sharer_id = %s AND revoked_at IS NULL "
    "AND expires_at > %s) AS sharing, "
    "EXISTS (SELECT 1 FROM tracking_batch WHERE user_id = %s AND batch_id = %s) AS recorded "
    "FROM tracking_consent WHERE user_id = %s"
)


def upload_gate_lock(*, user_id: int, batch_id: str) -> UploadGate:
    """Lock the user's consent row (`consent_lock`), and read whether a live share is on and
    whether this batch was recorded. Both are read as the statement starts: what an upload that
    held the lock meanwhile committed is not seen (the same batch: the ledger's unique key then
    refuses the second row, and the caller answers with the first's result; a share: it counts
    from the next upload). The caller must hold a transaction."""
    locking = " FOR UPDATE" if connections[DB].features.has_select_for_update else ""
    params = [user_id, timezone.now(), user_id, batch_id, user_id]
    for row in Consent.objects.using(DB).raw(_UPLOAD_GATE + locking, params):
        gate = cast(Any, row)  # `raw` sets the two EXISTS as attributes
        return UploadGate(
            granted=row.granted, sharing=bool(gate.sharing), recorded=bool(gate.recorded)
        )
    return UploadGate(granted=False, sharing=False, recorded=False)


def batch_get(*, user_id: int, batch_id: str) -> Batch | None:
    return Batch.objects.using(DB).filter(user_id=user_id, batch_id=batch_id).first()


def last_location_get(*, user_id: int) -> LastLocation | None:
    return LastLocation.objects.using(DB).filter(user_id=user_id).first()


def trip_list(*, user_id: int) -> QuerySet[Trip]:
    """A user's trips, without their full tracks (the detail has the simplified path)."""
    return Trip.objects.using(DB).filter(user_id=user_id).defer("track", "path")


def trip_get(*, user_id: int, trip_id: str) -> Trip | None:
    return Trip.objects.using(DB).filter(user_id=user_id, trip_id=trip_id).defer("track").first()


def area_counts(*, cells: list[str], since: datetime) -> dict[str, int]:
    """Visitors per cell since `since` (hours summed: a visitor of two hours counts twice)."""
    rows = (
        AreaCount.objects.using(DB)
        .filter(cell__in=cells, hour__gte=since)
        .values("cell")
        .annotate(total=Sum("visitors"))
    )
    found = {row["cell"]: int(row["total"] or 0) for row in rows}
    return {cell: found.get(cell, 0) for cell in cells}


def shares_active(*, sharer_id: int) -> QuerySet[Share]:
    now = timezone.now()
    return Share.objects.using(DB).filter(
        sharer_id=sharer_id, revoked_at__isnull=True, expires_at__gt=now
    )


def share_list(*, sharer_id: int) -> QuerySet[Share]:
    return Share.objects.using(DB).filter(sharer_id=sharer_id)


def share_recipients(*, share: Share) -> list[int]:
    """The users a share reaches now: its user, or its conversation's members (asked through
    messaging's contract, never its tables), the sharer aside."""
    if share.recipient_id is not None or share.conversation_id is None:
        return [share.recipient_id] if share.recipient_id is not None else []
    members = client(MESSAGING, MessagingService).conversation_members(
        ConversationGet(conversation_id=share.conversation_id)
    )
    return [user_id for user_id in members.user_ids if user_id != share.sharer_id]


def location_readable(*, reader_id: int, sharer_ids: list[int]) -> set[int]:
    """Of these sharers, those whose live location `reader_id` may read now (an active share
    with them, directly or through a conversation they are in)."""
    active = _active_shares().filter(sharer_id__in=sharer_ids)
    return _readable_sharers(list(active), [reader_id]).get(reader_id, set())


def location_sharers_for(*, reader_id: int) -> list[int]:
    """Sharers whose live location this reader may read now (the streams a socket joins)."""
    return location_sharers_for_many(reader_ids=[reader_id])[reader_id]


def location_sharers_for_many(*, reader_ids: list[int]) -> dict[int, list[int]]:
    """`location_sharers_for` of many readers (a reconnect storm's sockets): one query for the
    shares with them or with any conversation, one contract call for the memberships."""
    shares = list(
        _active_shares().filter(Q(recipient_id__in=reader_ids) | Q(conversation_id__isnull=False))
    )
    readable = _readable_sharers(shares, reader_ids)
    return {reader: sorted(readable.get(reader, set())) for reader in reader_ids}


def _active_shares() -> QuerySet[Share]:
    now = timezone.now()
    return Share.objects.using(DB).filter(revoked_at__isnull=True, expires_at__gt=now)


def _readable_sharers(shares: list[Share], reader_ids: list[int]) -> dict[int, set[int]]:
    """Reader → the sharers among `shares` it may read: a share with the reader itself, or
    with a conversation the reader is in (asked of messaging once, for every pair)."""
    readers = set(reader_ids)
    allowed: dict[int, set[int]] = {}
    for share in shares:
        if share.recipient_id in readers:
            allowed.setdefault(share.recipient_id, set()).add(share.sharer_id)
    conversations = sorted({s.conversation_id for s in shares if s.conversation_id is not None})
    if not conversations:
        return allowed
    messaging = client(MESSAGING, MessagingService)
    members: dict[int, set[int]] = {}
    for chunk in _chunks(conversations):
        for reader_chunk in _chunks(sorted(readers)):
            query = MembershipsGet(conversation_ids=chunk, user_ids=reader_chunk)
            for found in messaging.memberships_get(query).conversations:
                members.setdefault(found.conversation_id, set()).update(found.user_ids)
    for share in shares:
        for reader in members.get(share.conversation_id or 0, set()):
            if reader != share.sharer_id:
                allowed.setdefault(reader, set()).add(share.sharer_id)
    return allowed


def _chunks(ids: list[int], size: int = 1000) -> list[list[int]]:
    """The contract takes at most 1000 ids per list."""
    return [ids[start : start + size] for start in range(0, len(ids), size)]
