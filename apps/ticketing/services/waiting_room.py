"""The waiting room: when a show's on-sale draws more buyers than it lets through, they queue.

A show with a `WaitingRoom` admits buyers at most `admissions_per_second` at a time, first come
first served; only an admitted buyer may hold seats, with the signed admission token their
admission gave them (`admission_check`, from the hold and order endpoints). A show without one
admits everyone at once, so apps may always go through the queue.

Joining is one INSERT (or the existing entry: a buyer who reconnects keeps their place) and,
only when the admission budget may have room, one attempt at admitting the head of the queue:
under a rush the budget is spent, so buyers do not queue on the room's row lock. The budget is
a token bucket on that row (at most one second's worth saved up); the periodic `rooms_admit`
(every second) refills it and lets the next buyers through. Positions reach clients over the
socket: `queue.progress` on `queue:<show>` at most every PROGRESS_SECONDS (which place is being
served, how many wait), and `queue.admitted` with the token on each admitted buyer's own stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connections, transaction
from django.db.models import Max
from django.utils import timezone

from apps.ticketing import selectors
from apps.ticketing.error_codes import AdmissionRequired, NotInQueue, ShowNotFound, ShowNotOnSale
from apps.ticketing.models import QueueEntry, WaitingRoom
from cleave.databases import database_for
from cleave.realtime import push, user_stream

DB = database_for("ticketing")
QUEUE_FAMILY = "queue"
PROGRESS_SECONDS = 2.0  # `queue.progress` frames per show at most this often
_SALT = "cleave.ticketing.admission"


def queue_stream(show_id: int) -> str:
    return f"{QUEUE_FAMILY}:{show_id}"


def admission_seconds() -> int:
    """How long an admission lets its buyer hold seats (declared in context.py)."""
    return int(settings.CLEAVE_TICKETING_ADMISSION_SECONDS)  # type: ignore[misc]


@dataclass(frozen=True)
class Place:
    """A buyer's place in a show's queue, as the API and the socket tell it."""

    show_id: int
    place: int  # the entry's number: the queue serves places in increasing order
    position: int  # buyers waiting ahead, this one included; 0 once admitted
    admitted_at: datetime | None
    admission_token: str | None
    expires_at: datetime | None


def waiting_room_set(*, show_id: int, admissions_per_second: int | None) -> WaitingRoom | None:
    """Open a show's waiting room at this rate, or change its rate; None closes it (whoever
    waits is then let through at the next admission round)."""
    if admissions_per_second is not None and admissions_per_second < 1:
        raise ValueError("admissions_per_second must be at least 1 (None closes the room)")
    with transaction.atomic(using=DB):
        if admissions_per_second is None:
            WaitingRoom.objects.using(DB).filter(show_id=show_id).delete()
            return None
        room, _ = WaitingRoom.objects.using(DB).update_or_create(
            show_id=show_id,
            defaults={"admissions_per_second": admissions_per_second},
            create_defaults={
                "admissions_per_second": admissions_per_second,
                "refilled_at": timezone.now(),
            },
        )
    return room


def queue_join(*, show_id: int, user_id: int) -> Place:
    """Take a place in the show's queue (or find the one taken before)."""
    show = selectors.show_get(show_id=show_id)
    if show is None:
        raise ShowNotFound()
    if show.ends_at <= timezone.now():
        raise ShowNotOnSale()
    try:
        with transaction.atomic(using=DB):
            _hold_admission_back(show_id)
            entry, _ = QueueEntry.objects.using(DB).get_or_create(show_id=show_id, user_id=user_id)
    except IntegrityError:  # the same buyer joining twice at once: the first insert won
        entry = QueueEntry.objects.using(DB).get(show_id=show_id, user_id=user_id)
    if entry.admitted_at is None and _may_admit(show_id):
        _admit(show_id, wait_for_lock=False)
        entry.refresh_from_db(using=DB)
    return _place(entry)


def queue_get(*, show_id: int, user_id: int) -> Place:
    entry = QueueEntry.objects.using(DB).filter(show_id=show_id, user_id=user_id).first()
    if entry is None:
        raise NotInQueue()
    return _place(entry)


def admission_check(*, show_id: int, user_id: int, token: str | None) -> None:
    """Raise AdmissionRequired unless the buyer may hold seats of the show now: the show has
    no waiting room, or `token` is this buyer's admission for it, not yet expired."""
    if not WaitingRoom.objects.using(DB).filter(show_id=show_id).exists():
        return
    if token:
        try:
            admitted_show, admitted_user, admitted_at = _admission_claims(token)
        except (signing.BadSignature, ValueError, TypeError):
            admitted_show = None
        else:
            fresh = timezone.now().timestamp() - float(admitted_at) <= admission_seconds()
            if (admitted_show, admitted_user) == (show_id, user_id) and fresh:
                return
    raise AdmissionRequired(details={"show_id": show_id, "queue": queue_stream(show_id)})


def rooms_admit() -> int:
    """One admission round over every waiting room with buyers waiting (the periodic task),
    and their `queue.progress` frames; returns how many buyers were let through."""
    waiting_shows = (
        QueueEntry.objects.using(DB)
        .filter(admitted_at=None)
        .values_list("show_id", flat=True)
        .distinct()
    )
    admitted = 0
    for show_id in list(waiting_shows):
        admitted += len(_admit(show_id, wait_for_lock=True))
        _announce(show_id)
    return admitted


def _hold_admission_back(show_id: int) -> None:
    """Keep admitters out until this join's place is committed (the caller's transaction).

    A place is the entry's id, taken at insert; joins commit in any order. Without this, an
    admitter could see place 16 committed while place 15 was not yet, and let 16 through first.
    The room's row in KEY SHARE mode: joins do not wait for each other, and an admitter (FOR
    UPDATE) waits for the joins in flight — or, joining, skips and leaves it to the next round.
    """
    connection = connections[DB]
    if connection.vendor != "postgresql":
        return  # SQLite runs one writer at a time: commit order is id order
    table = connection.ops.quote_name(WaitingRoom._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE show_id = %s FOR KEY SHARE", [show_id])  # noqa: S608 - our own table name


def _may_admit(show_id: int) -> bool:
    """Whether the room's bucket may hold an admission now (an unlocked read: a join under a
    rush skips the lock when the budget is spent; the periodic round admits it)."""
    room = WaitingRoom.objects.using(DB).filter(show_id=show_id).first()
    if room is None:
        return True
    saved = room.tokens + room.admissions_per_second * _seconds_since(room.refilled_at)
    return saved >= 1


def _admit(show_id: int, *, wait_for_lock: bool) -> list[QueueEntry]:
    """Let the head of the queue through, as many as the room's budget allows (everyone when
    the show has no room). The room's row lock makes one admitter per show at a time; a join
    that finds it taken leaves the admitting to whoever holds it."""
    now = timezone.now()
    with transaction.atomic(using=DB):
        rooms = WaitingRoom.objects.using(DB).filter(show_id=show_id)
        room = rooms.select_for_update(skip_locked=not wait_for_lock).first()
        waiting = QueueEntry.objects.using(DB).filter(show_id=show_id, admitted_at=None)
        if room is None:
            if rooms.exists():
                return []  # another admitter holds the room
            limit = None
        else:
            rate = room.admissions_per_second
            room.tokens = min(float(rate), room.tokens + rate * _seconds_since(room.refilled_at))
            room.refilled_at = now
            limit = int(room.tokens)
        heads = list(waiting.order_by("pk").values_list("pk", "user_id")[:limit])
        if heads:
            QueueEntry.objects.using(DB).filter(pk__in=[pk for pk, _ in heads]).update(
                admitted_at=now
            )
        if room is not None:
            room.tokens -= len(heads)
            room.save(using=DB, update_fields=["tokens", "refilled_at"])
        entries = [
            QueueEntry(pk=pk, show_id=show_id, user_id=user, admitted_at=now) for pk, user in heads
        ]
        transaction.on_commit(lambda: _tell_admitted(entries), using=DB)
    return entries


def _tell_admitted(entries: list[QueueEntry]) -> None:
    for entry in entries:
        place = _place(entry)
        push(
            user_stream(entry.user_id),
            "queue.admitted",
            {
                "show_id": entry.show_id,
                "place": place.place,
                "admission_token": place.admission_token,
                "expires_at": place.expires_at.isoformat() if place.expires_at else None,
            },
        )


def _announce(show_id: int) -> None:
    """`queue.progress` on the show's stream, unless one went out less than PROGRESS_SECONDS
    ago (a conditional UPDATE: one announcer per round, whatever runs concurrently)."""
    now = timezone.now()
    due = now - timedelta(seconds=PROGRESS_SECONDS)
    claimed = (
        WaitingRoom.objects.using(DB)
        .filter(show_id=show_id)
        .exclude(announced_at__gt=due)
        .update(announced_at=now)
    )
    if not claimed:
        return
    entries = QueueEntry.objects.using(DB).filter(show_id=show_id)
    serving = entries.exclude(admitted_at=None).aggregate(last=Max("pk"))["last"] or 0
    waiting = entries.filter(admitted_at=None).count()
    progress = {"show_id": show_id, "serving": serving, "waiting": waiting}
    push(queue_stream(show_id), "queue.progress", progress)


def _place(entry: QueueEntry) -> Place:
    if entry.admitted_at is None:
        ahead = QueueEntry.objects.using(DB).filter(
            show_id=entry.show_id, admitted_at=None, pk__lte=entry.pk
        )
        return Place(entry.show_id, entry.pk, ahead.count(), None, None, None)
    claims = [entry.show_id, entry.user_id, round(entry.admitted_at.timestamp(), 3)]
    token = signing.Signer(salt=_SALT).sign_object(claims)
    expires_at = entry.admitted_at + timedelta(seconds=admission_seconds())
    return Place(entry.show_id, entry.pk, 0, entry.admitted_at, token, expires_at)


def _admission_claims(token: str) -> list[Any]:
    """[show, user, admitted at] of an admission token. Tokens are signed without a signing
    time (`Signer`, not `signing.dumps`): the admission time inside is what ages them, and a
    buyer who asks again gets the same token. Tokens of the earlier form (`signing.dumps`,
    which adds one) are still read, so a deploy during an on-sale keeps admitted buyers in."""
    if token.count(":") == 2:
        return list(signing.loads(token, salt=_SALT))  # payload:signed-at:signature
    return list(signing.Signer(salt=_SALT).unsign_object(token))  # payload:signature


def _seconds_since(moment: datetime) -> float:
    return max(0.0, (timezone.now() - moment).total_seconds())
