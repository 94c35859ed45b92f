"""The ranking experiment: the variant comes from the flag `recommendations.ranking`'s variants
(bucketed on the user's id, so sticky per user — docs/flags.md), its first exposure per user is
recorded, and feedback counts per variant give the click-through the admin shows."""

from __future__ import annotations

import logging
import threading

from django.db import transaction
from django.db.models import F, QuerySet

from apps.recommendations import selectors
from apps.recommendations.error_codes import ShowNotFound
from apps.recommendations.models import Exposure, Feedback, VariantStat
from apps.recommendations.services import cache
from apps.recommendations.services.ranking import DEFAULT_VARIANT, VARIANTS
from cleave.auth.principal import Principal
from cleave.databases import database_for
from cleave.flags import variant

logger = logging.getLogger(__name__)
DB = database_for("recommendations")
FLAG = "recommendations.ranking"
COUNTERS = {"impression": "impressions", "click": "clicks", "dismiss": "dismissals"}
# (user, variant) this process has recorded already: one write per user per process at most.
_recorded: set[tuple[int, str]] = set()
_recorded_lock = threading.Lock()


def variant_for(principal: Principal) -> str:
    """The flag's variant for this user, if it names a known ranking; else the default (no flag,
    no variants, an unknown name, flags unreadable)."""
    chosen = variant(FLAG, principal)
    return chosen if chosen in VARIANTS else DEFAULT_VARIANT


def exposure_record(*, user_id: int, variant: str) -> None:
    """The user saw this variant's list: recorded the first time (the unique row decides across
    processes). A failed write is logged, never the read's failure."""
    with _recorded_lock:
        if (user_id, variant) in _recorded:
            return
    try:
        with transaction.atomic(using=DB):
            _, created = Exposure.objects.using(DB).get_or_create(user_id=user_id, variant=variant)
            if created:
                _stat(variant).update(exposures=F("exposures") + 1)
    except Exception:
        logger.warning("recommendations: recording an exposure failed", exc_info=True)
        return
    with _recorded_lock:
        _recorded.add((user_id, variant))


def feedback_record(*, user_id: int, variant: str, show_id: int, kind: str) -> Feedback:
    """An impression, click or dismissal of a recommended show. A dismissed show leaves the
    user's list at once."""
    if not selectors.show_exists(show_id=show_id):
        raise ShowNotFound()
    with transaction.atomic(using=DB):
        row = Feedback.objects.using(DB).create(
            user_id=user_id, variant=variant, show_id=show_id, kind=kind
        )
        _stat(variant).update(**{COUNTERS[kind]: F(COUNTERS[kind]) + 1})
        if kind == "dismiss":
            transaction.on_commit(lambda: cache.user_invalidate(user_id=user_id), using=DB)
    return row


def _stat(variant: str) -> QuerySet[VariantStat]:
    VariantStat.objects.using(DB).get_or_create(variant=variant)
    return VariantStat.objects.using(DB).filter(variant=variant)


def forget() -> None:
    with _recorded_lock:
        _recorded.clear()
