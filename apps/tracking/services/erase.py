"""A deleted account: its events become unreadable (crypto-shredding) and its rows go."""

from __future__ import annotations

from django.db import transaction

from apps.tracking.models import Batch, Consent, ConsentChange, Device, Share
from apps.tracking.selectors import DB
from apps.tracking.services.devices import subject_of
from apps.tracking.services.shares import location_stream, shares_revoke_all
from cleave.eventstore import forget_subject
from cleave.realtime import stream_forget


def user_forget(*, user_id: int) -> None:
    """Shred the user's data key (their events and snapshots can no longer be read), let every
    projection drop their rows, delete the write side's rows of them (consent and its audit
    trail, the batch ledger, device index, shares given or received) and, after commit, the
    live frames their location stream retains for resume. Idempotent."""
    with transaction.atomic(using=DB):
        shares_revoke_all(user_id=user_id)
        forget_subject(subject_of(user_id))
        for model in (Consent, ConsentChange, Batch, Device):
            model.objects.using(DB).filter(user_id=user_id).delete()
        Share.objects.using(DB).filter(sharer_id=user_id).delete()
        Share.objects.using(DB).filter(recipient_id=user_id).delete()
        # The live frames already pushed stay in the stream's resume history for a while:
        # they hold coordinates too.
        stream = location_stream(user_id)
        transaction.on_commit(lambda: stream_forget(stream), using=DB)
