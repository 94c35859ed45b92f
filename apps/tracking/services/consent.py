"""Consent: only users who opted in are tracked; revoking stops ingest and shares at once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from apps.tracking.models import Consent, ConsentChange
from apps.tracking.selectors import DB
from apps.tracking.services.devices import devices_end_trips
from apps.tracking.services.shares import shares_revoke_all
from cleave.gateway.request_id import current_request_id


def consent_set(*, user_id: int, granted: bool, changed_by: int, source: str) -> Consent:
    """Grant or revoke; every change is audited (ConsentChange). A revocation waits for the
    user's uploads in flight (they hold the consent row), ends their open trips, so nothing is
    recorded after it commits."""
    now = timezone.now()
    with transaction.atomic(using=DB):
        # A first change creates the row (never asked = not granted); two at once meet on the
        # primary key and the second then waits on the lock like any other change.
        Consent.objects.using(DB).bulk_create(
            [Consent(user_id=user_id, granted=False, changed_at=now)], ignore_conflicts=True
        )
        consent = Consent.objects.using(DB).select_for_update().get(user_id=user_id)
        if consent.granted == granted:
            return consent  # nothing changed, nothing to audit
        consent.granted, consent.changed_at = granted, now
        consent.save(using=DB, update_fields=("granted", "changed_at"))
        ConsentChange.objects.using(DB).create(
            user_id=user_id,
            granted=granted,
            changed_at=now,
            changed_by=changed_by,
            source=source,
            request_id=current_request_id.get()[:64],
        )
        if not granted:
            devices_end_trips(user_id=user_id, reason="consent_revoked")
            shares_revoke_all(user_id=user_id)
    return consent
