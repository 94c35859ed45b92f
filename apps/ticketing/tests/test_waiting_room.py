"""The waiting room: first come first served at the room's rate, a place kept across rejoins,
holds only with the buyer's own fresh admission, progress and admission over the socket."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.core import signing
from django.db import connection, connections, transaction
from django.utils import timezone

from apps.ticketing import realtime
from apps.ticketing.models import QueueEntry, Show, WaitingRoom
from apps.ticketing.services import waiting_room
from apps.ticketing.tests import factories
from cleave.auth.principal import Principal
from cleave.realtime import user_stream
from cleave.realtime.hub import store

pytestmark = pytest.mark.django_db(transaction=True)


class Clock:
    """The waiting room's clock, stopped: its bucket refills only when the test says a second
    passed. On the wall clock a slow moment between two joins (half a second on a busy CI
    machine) would refill the bucket and let one more buyer through."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch)


def _room(show: Show, rate: int, *, saved: int | None = None) -> None:
    """Open a room at `rate` with `saved` admissions in its bucket (full: `rate`)."""
    waiting_room.waiting_room_set(show_id=show.pk, admissions_per_second=rate)
    WaitingRoom.objects.filter(show=show).update(tokens=rate if saved is None else saved)


def _join(as_user: Any, user_id: int, show: Show) -> dict[str, Any]:
    answer = as_user(user_id).call("post", f"/shows/{show.pk}/queue")
    assert answer.status_code == 200, answer.content
    return dict(answer.json())


def _hold(as_user: Any, user_id: int, show: Show, token: str | None) -> Any:
    body: dict[str, Any] = {"category_id": factories.category_of(show).pk, "quantity": 1}
    if token is not None:
        body["admission_token"] = token
    return as_user(user_id).call("post", "/holds", body)


def _frames(stream: str, event: str) -> list[dict[str, Any]]:
    replay = store().since(stream, 0, None, cap=1000)
    parsed = [json.loads(frame) for _, frame in replay.entries]
    return [frame["data"] for frame in parsed if frame.get("event") == event]


def test_without_a_room_everyone_is_admitted_at_once_and_holds_need_no_token(
    as_user: Any,
) -> None:
    show = factories.show(capacity=10)
    joined = _join(as_user, 1, show)
    assert (joined["status"], joined["position"]) == ("admitted", 0)
    assert joined["admission_token"]
    assert joined["expires_at"]
    assert _hold(as_user, 2, show, None).status_code == 201  # no room: nothing to wait for


def test_buyers_are_let_through_in_order_at_the_rooms_rate(as_user: Any, clock: Clock) -> None:
    show = factories.show(capacity=10)
    # Real mode keeps streams in Redis from one test run to the next, while a fresh database
    # numbers shows from 1 again: an earlier run's frames for this show id must not count.
    for stream in (user_stream(3), f"queue:{show.pk}"):
        store().forget(stream)
    _room(show, 2)
    places = [_join(as_user, user, show) for user in (1, 2, 3, 4, 5)]
    assert [p["status"] for p in places] == ["admitted"] * 2 + ["waiting"] * 3
    assert [p["position"] for p in places] == [0, 0, 1, 2, 3]
    assert places[2]["stream"] == f"queue:{show.pk}"

    again = _join(as_user, 4, show)  # the app reconnected: same place, same position
    assert (again["place"], again["position"]) == (places[3]["place"], 2)

    clock.advance(1)  # then the round lets the next two through, in order
    assert waiting_room.rooms_admit() == 2
    after = [as_user(u).call("get", f"/shows/{show.pk}/queue").json() for u in (3, 4, 5)]
    assert [(a["status"], a["position"]) for a in after] == [
        ("admitted", 0),
        ("admitted", 0),
        ("waiting", 1),
    ]
    # Each admitted buyer hears it on their own stream, token included; the queue's stream
    # says which place is served and how many still wait.
    (admitted,) = [f for f in _frames(user_stream(3), "queue.admitted") if f["show_id"] == show.pk]
    assert admitted["admission_token"] == after[0]["admission_token"]
    progress = _frames(f"queue:{show.pk}", "queue.progress")[-1]
    assert progress == {"show_id": show.pk, "serving": after[1]["place"], "waiting": 1}


def test_a_hold_needs_the_buyers_own_fresh_admission_for_that_show(
    as_user: Any, clock: Clock
) -> None:
    show, other = factories.show(capacity=10), factories.show(capacity=10)
    _room(show, 1)
    _room(other, 5)
    first = _join(as_user, 1, show)
    waiting = _join(as_user, 2, show)
    elsewhere = _join(as_user, 2, other)
    assert (first["status"], waiting["status"]) == ("admitted", "waiting")

    refused = _hold(as_user, 2, show, None)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "admission_required")
    assert refused.json()["error"]["details"]["queue"] == f"queue:{show.pk}"
    for user, token in ((2, first["admission_token"]), (2, elsewhere["admission_token"])):
        assert _hold(as_user, user, show, token).status_code == 403  # someone else's, or not it
    assert _hold(as_user, 1, show, first["admission_token"] + "x").status_code == 403
    assert _hold(as_user, 1, show, first["admission_token"]).status_code == 201

    clock.advance(waiting_room.admission_seconds() + 1)  # the admission ran out
    assert _hold(as_user, 1, show, first["admission_token"]).status_code == 403


def test_an_admission_token_is_the_same_whenever_asked_and_the_earlier_form_still_admits(
    as_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    show = factories.show(capacity=10)
    _room(show, 2)
    first = _join(as_user, 1, show)["admission_token"]
    # Seconds later on the wall clock (what `signing.dumps` stamped into every token), the
    # buyer's app asks again, or reads its socket frame: the same admission, the same token.
    later = SimpleNamespace(time=lambda: time.time() + 5)
    monkeypatch.setattr(signing, "time", later)
    assert _join(as_user, 1, show)["admission_token"] == first
    assert as_user(1).call("get", f"/shows/{show.pk}/queue").json()["admission_token"] == first

    # A token handed out before this form (a deploy during the on-sale) still admits its buyer.
    entry = QueueEntry.objects.get(show=show, user_id=1)
    assert entry.admitted_at is not None
    claims = [show.pk, 1, round(entry.admitted_at.timestamp(), 3)]
    earlier = signing.dumps(claims, salt="cleave.ticketing.admission")
    assert earlier != first
    assert _hold(as_user, 2, show, earlier).status_code == 403  # still only its own buyer's
    assert _hold(as_user, 1, show, earlier).status_code == 201


def test_joining_a_draft_or_unknown_show_or_reading_a_place_never_taken_is_refused(
    as_user: Any,
) -> None:
    draft = factories.show(publish=False)
    assert as_user(1).call("post", f"/shows/{draft.pk}/queue").json()["error"]["code"] == (
        "show_not_found"
    )
    assert as_user(1).call("post", "/shows/999999/queue").status_code == 404
    show = factories.show()
    missing = as_user(1).call("get", f"/shows/{show.pk}/queue")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_in_queue")


def test_closing_the_room_lets_whoever_waits_through_at_the_next_round(as_user: Any) -> None:
    show = factories.show()
    _room(show, 1, saved=0)
    assert [_join(as_user, u, show)["status"] for u in (1, 2)] == ["waiting", "waiting"]
    waiting_room.waiting_room_set(show_id=show.pk, admissions_per_second=None)
    assert waiting_room.rooms_admit() == 2
    assert not QueueEntry.objects.filter(show=show, admitted_at=None).exists()


def test_only_buyers_in_a_queue_read_its_stream_and_a_reconnect_rejoins_it(
    as_user: Any,
) -> None:
    show = factories.show()
    _room(show, 1, saved=0)
    _join(as_user, 1, show)
    stream = f"queue:{show.pk}"
    reader, stranger = (
        Principal(user_id=user, session_id="s", roles=frozenset({"user"}), expires_at=0)
        for user in (1, 2)
    )
    made_up = ["queue:0", "queue:abc", "queue:99999999999999999999", "queue:"]
    assert realtime._queue_readable(reader, [stream, *made_up]) == {stream}
    assert realtime._queue_readable(stranger, [stream]) == set()
    assert realtime._queue_initial(reader) == [stream]
    assert realtime._queue_initial_many([reader, stranger]) == {1: [stream], 2: []}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent joins: PostgreSQL")
def test_a_rush_of_joins_admits_no_more_than_the_budget_and_in_arrival_order() -> None:
    show = factories.show()
    _room(show, 5)  # a full bucket: 5 may pass at once
    buyers, start = 12, threading.Barrier(12)

    def join(user_id: int) -> None:
        try:
            start.wait()
            waiting_room.queue_join(show_id=show.pk, user_id=user_id)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=join, args=(user,)) for user in range(1, buyers + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = list(QueueEntry.objects.filter(show=show).order_by("pk"))
    admitted = [e for e in entries if e.admitted_at is not None]
    assert len(entries) == buyers
    # Joins that found the room locked left the admitting to its holder or the next round.
    assert 1 <= len(admitted) <= 5
    assert admitted == entries[: len(admitted)]  # first come, first served
    waiting_room.rooms_admit()  # no time passed: the round spends what is left of the 5
    admitted = list(QueueEntry.objects.filter(show=show, admitted_at__isnull=False).order_by("pk"))
    assert admitted == entries[:5]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent joins: PostgreSQL")
def test_no_place_is_admitted_ahead_of_an_earlier_place_still_being_taken() -> None:
    show = factories.show()
    _room(show, 5)
    taken, release = threading.Event(), threading.Event()

    def slow_join() -> None:  # place N, its transaction still open while place N+1 commits
        try:
            with transaction.atomic():
                waiting_room._hold_admission_back(show.pk)
                QueueEntry.objects.create(show=show, user_id=1)
                taken.set()
                release.wait(10)
        finally:
            connections.close_all()

    first = threading.Thread(target=slow_join)
    first.start()
    assert taken.wait(10)
    with transaction.atomic():
        waiting_room._hold_admission_back(show.pk)
        later = QueueEntry.objects.create(show=show, user_id=2)
    # A join's admitter skips while a place is being taken; it does not let N+1 through.
    assert waiting_room._admit(show.pk, wait_for_lock=False) == []
    assert not QueueEntry.objects.filter(pk=later.pk).exclude(admitted_at=None).exists()
    release.set()
    first.join()
    admitted = waiting_room._admit(show.pk, wait_for_lock=True)
    assert [entry.user_id for entry in admitted] == [1, 2]  # in place order
