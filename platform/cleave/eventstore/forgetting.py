"""Crypto-shredding: forget a subject although the log that holds its data is append-only."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from cleave.crypto.subject_keys import subject_forget
from cleave.eventstore.models import StoredSnapshot
from cleave.eventstore.projections import registered_projections


def forget_subject(subject: str) -> None:
    """Shred `subject`'s data key in every database (its events and snapshots become
    unreadable for good; reads skip them), delete its snapshots, and have every projection
    drop its rows. Idempotent: a second call finds nothing left to do.

    Each database in its own transaction: a key shredded in one stays shredded if another is
    down, and a retry finishes the job.
    """
    for alias in settings.DATABASES:
        with transaction.atomic(using=alias):
            subject_forget(subject, using=alias)
            StoredSnapshot.objects.using(alias).filter(subject=subject).delete()
    for projection in registered_projections():
        with transaction.atomic(using=projection.alias):
            projection.forget(subject)
