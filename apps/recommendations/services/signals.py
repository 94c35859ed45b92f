"""Other contexts' facts into recommendations's read models. Each function owns its
transaction; the kernel's inbox runs a subscriber once per event, so the counting here applies
once, and a second ticket of the same user for the same show adds no co-purchase."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from itertools import permutations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.recommendations import selectors
from apps.recommendations.models import (
    AreaActivity,
    CancelledOrder,
    CoPurchase,
    Exposure,
    Feedback,
    GeofenceCell,
    PlaceVisit,
    Show,
    Ticket,
)
from apps.recommendations.services import cache
from cleave.databases import database_for

DB = database_for("recommendations")
# Area activity older than this no longer says where people go now.
AREA_KEPT = timedelta(days=7)


def show_record(
    *,
    show_id: int,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    city: str,
    cell: str,
) -> Show:
    """A published show (again: a republished show's details replace the old ones)."""
    with transaction.atomic(using=DB):
        show, _ = Show.objects.using(DB).update_or_create(
            show_id=show_id,
            defaults={
                "title": title,
                "starts_at": starts_at,
                "ends_at": ends_at,
                "city": city,
                "cell": cell,
            },
        )
    return show


def ticket_record(*, ticket_id: str, user_id: int, show_id: int, order_ref: str) -> bool:
    """An issued ticket. The user's first for this show makes them a buyer of it and a
    co-buyer of it with each show they bought before; their cached list loses the show as soon
    as this commits. True if the ticket was new."""
    with transaction.atomic(using=DB):
        before = selectors.shows_bought(user_id=user_id)
        undone = CancelledOrder.objects.using(DB).filter(order_ref=order_ref).exists()
        _, created = Ticket.objects.using(DB).get_or_create(
            ticket_id=ticket_id,
            defaults={
                "user_id": user_id,
                "show_id": show_id,
                "order_ref": order_ref,
                "cancelled": undone,  # its order's cancellation arrived first
            },
        )
        if created and not undone and show_id not in before:
            Show.objects.using(DB).filter(show_id=show_id).update(buyers=F("buyers") + 1)
            for other in before:
                _co_purchase_add(show_id, other, 1)
                _co_purchase_add(other, show_id, 1)
        transaction.on_commit(lambda: cache.user_invalidate(user_id=user_id), using=DB)
    return created


def _co_purchase_add(show_id: int, other_show_id: int, delta: int) -> None:
    row, _ = CoPurchase.objects.using(DB).get_or_create(
        show_id=show_id, other_show_id=other_show_id
    )
    CoPurchase.objects.using(DB).filter(pk=row.pk).update(buyers=F("buyers") + delta)


def order_cancel(*, order_ref: str, user_id: int) -> int:
    """A cancelled order: its tickets stop counting (and any that arrive later start
    cancelled). Each show the user no longer holds a live ticket for loses them as a buyer and
    as a co-buyer with every show they still hold; their cached list is recomputed after
    commit. Idempotent; the number of tickets cancelled now."""
    with transaction.atomic(using=DB):
        CancelledOrder.objects.using(DB).get_or_create(
            order_ref=order_ref, defaults={"user_id": user_id}
        )
        tickets = Ticket.objects.using(DB).filter(order_ref=order_ref, cancelled=False)
        shows = set(tickets.values_list("show_id", flat=True))
        cancelled = tickets.update(cancelled=True)
        still = selectors.shows_bought(user_id=user_id)
        for show_id in shows - still:
            Show.objects.using(DB).filter(show_id=show_id).update(buyers=F("buyers") - 1)
            for other in still:
                _co_purchase_add(show_id, other, -1)
                _co_purchase_add(other, show_id, -1)
        transaction.on_commit(lambda: cache.user_invalidate(user_id=user_id), using=DB)
    return cancelled


def area_activity_record(*, cell: str, hour: datetime, visitors: int) -> None:
    """One hour's visitors of a cell (a late recount of the same hour replaces it)."""
    with transaction.atomic(using=DB):
        AreaActivity.objects.using(DB).update_or_create(
            cell=cell, hour=hour, defaults={"visitors": visitors}
        )


def place_visit_record(*, user_id: int, geofence_id: int, entered_at: datetime) -> None:
    with transaction.atomic(using=DB):
        visit, created = PlaceVisit.objects.using(DB).get_or_create(
            user_id=user_id, geofence_id=geofence_id, defaults={"visits": 1, "last_at": entered_at}
        )
        if not created:
            PlaceVisit.objects.using(DB).filter(pk=visit.pk).update(
                visits=F("visits") + 1, last_at=max(visit.last_at, entered_at)
            )
        transaction.on_commit(lambda: cache.user_invalidate(user_id=user_id), using=DB)


def geofence_cell_set(*, geofence_id: int, cell: str, note: str = "") -> GeofenceCell:
    """Staff place a geofence (the admin's save): its visitors' lists count it from now on."""
    with transaction.atomic(using=DB):
        row, _ = GeofenceCell.objects.using(DB).update_or_create(
            geofence_id=geofence_id, defaults={"cell": cell, "note": note}
        )
    return row


def user_forget(*, user_id: int) -> int:
    """A deleted account: its tickets, visits, exposures and feedback go; the counts it fed are
    anonymous and are counted again without it by the next batch. The number of rows removed."""
    with transaction.atomic(using=DB):
        removed = 0
        for model in (Ticket, PlaceVisit, Exposure, Feedback, CancelledOrder):
            deleted, _ = model.objects.using(DB).filter(user_id=user_id).delete()
            removed += deleted
        transaction.on_commit(lambda: cache.user_invalidate(user_id=user_id), using=DB)
    return removed


def recompute() -> dict[str, int]:
    """The periodic batch: popularity and co-purchases counted again from the tickets (so a
    drift of the incremental counts never lasts), old area activity dropped. Counted in Python:
    a pass over (user, show) pairs, which is what the read model holds anyway."""
    pairs = selectors.tickets_live()
    buyers: Counter[int] = Counter(show for _, show in pairs)
    by_user: dict[int, list[int]] = {}
    for user, show in pairs:
        by_user.setdefault(user, []).append(show)
    together: Counter[tuple[int, int]] = Counter()
    for shows in by_user.values():
        together.update(permutations(sorted(set(shows)), 2))
    with transaction.atomic(using=DB):
        Show.objects.using(DB).exclude(show_id__in=list(buyers)).update(buyers=0)
        for row in Show.objects.using(DB).filter(show_id__in=list(buyers)):
            if row.buyers != buyers[row.show_id]:
                row.buyers = buyers[row.show_id]
                row.save(update_fields=["buyers"])
        CoPurchase.objects.using(DB).all().delete()
        CoPurchase.objects.using(DB).bulk_create(
            CoPurchase(show_id=a, other_show_id=b, buyers=n) for (a, b), n in together.items()
        )
        dropped, _ = (
            AreaActivity.objects.using(DB).filter(hour__lt=timezone.now() - AREA_KEPT).delete()
        )
    return {"shows": len(buyers), "pairs": len(together), "areas_dropped": dropped}
