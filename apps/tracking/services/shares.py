"""Live location sharing: recipients get `location.updated` on the sharer's `location:<id>`
stream while a share is active (not revoked, not expired: both checked on the server)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.tracking.domain.validation import Point
from apps.tracking.error_codes import ConsentRequired, InvalidShare, ShareNotFound
from apps.tracking.models import Share
from apps.tracking.selectors import DB, consent_lock, share_recipients, shares_active
from cleave.realtime import push, subscribe, unsubscribe

LOCATION_FAMILY = "location"
MAX_SHARE_MINUTES = 24 * 60
# A point older than this is history, not a live location: a late upload pushes nothing.
LIVE_WINDOW = timedelta(minutes=5)


def location_stream(user_id: int) -> str:
    return f"{LOCATION_FAMILY}:{user_id}"


def share_create(
    *,
    sharer_id: int,
    minutes: int,
    recipient_id: int | None = None,
    conversation_id: int | None = None,
) -> Share:
    if (recipient_id is None) == (conversation_id is None):
        raise InvalidShare(details={"reason": "Share with one user or one conversation."})
    if recipient_id == sharer_id:
        raise InvalidShare(details={"reason": "Sharing with yourself shares nothing."})
    if not 0 < minutes <= MAX_SHARE_MINUTES:
        raise InvalidShare(details={"reason": f"Share for 1 to {MAX_SHARE_MINUTES} minutes."})
    now = timezone.now()
    with transaction.atomic(using=DB):
        consent = consent_lock(user_id=sharer_id)
        if consent is None or not consent.granted:
            raise ConsentRequired()
        share = Share.objects.using(DB).create(
            sharer_id=sharer_id,
            recipient_id=recipient_id,
            conversation_id=conversation_id,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        recipients = share_recipients(share=share)
        stream = location_stream(sharer_id)
        transaction.on_commit(
            lambda: [subscribe(user_id, stream) for user_id in recipients], using=DB
        )
    return share


def share_revoke(*, sharer_id: int, share_id: int) -> Share:
    with transaction.atomic(using=DB):
        share = (
            Share.objects.using(DB).select_for_update().filter(pk=share_id, sharer_id=sharer_id)
        ).first()
        if share is None:
            raise ShareNotFound()
        if share.revoked_at is None:
            share.revoked_at = timezone.now()
            share.save(using=DB, update_fields=("revoked_at",))
            _detach([share])
    return share


def shares_revoke_all(*, user_id: int) -> int:
    """Every active share of the user ends now (consent revoked, account deleted)."""
    now = timezone.now()
    with transaction.atomic(using=DB):
        active = list(shares_active(sharer_id=user_id))
        Share.objects.using(DB).filter(pk__in=[s.pk for s in active]).update(revoked_at=now)
        _detach(active)
    return len(active)


def shares_expire() -> int:
    """Detach the recipients of shares that expired (the periodic task). The stream's
    authorization already refuses them; this makes their sockets leave it."""
    now = timezone.now()
    with transaction.atomic(using=DB):
        expired = list(Share.objects.using(DB).filter(revoked_at__isnull=True, expires_at__lte=now))
        Share.objects.using(DB).filter(pk__in=[s.pk for s in expired]).update(revoked_at=now)
        _detach(expired)
    return len(expired)


def _detach(shares: list[Share]) -> None:
    """After commit: the recipients' sockets leave the sharer's stream (unless another active
    share still lets them read it)."""
    pairs = {(s.sharer_id, user_id) for s in shares for user_id in share_recipients(share=s)}

    def leave() -> None:
        for sharer_id, user_id in sorted(pairs):
            unsubscribe(user_id, location_stream(sharer_id))

    transaction.on_commit(leave, using=DB)


def live_location_push(*, user_id: int, point: Point, sharing: bool) -> None:
    """After commit, the newest point to the user's live sharers' stream, if a share is on
    (`sharing`: read by the caller under the consent lock, `upload_gate_lock`) and the point
    is recent (LIVE_WINDOW). The caller's transaction (the upload's)."""
    if not sharing or point.t < timezone.now() - LIVE_WINDOW:
        return
    data = {
        "user_id": user_id,
        "t": point.t.isoformat(),
        "lat": point.lat,
        "lon": point.lon,
        "accuracy": point.accuracy,
    }
    stream = location_stream(user_id)
    transaction.on_commit(lambda: push(stream, "location.updated", data), using=DB)
