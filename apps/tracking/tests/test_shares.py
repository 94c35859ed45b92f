"""Live location sharing: who may read `location:<id>`, and until when (server-side)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from apps.tracking import realtime
from apps.tracking.models import Share
from apps.tracking.services.shares import shares_expire
from apps.tracking.subscribers import on_user_deleted
from apps.tracking.tests.conftest import at
from cleave.auth.principal import Principal
from cleave.databases import database_for
from cleave.events import captured_events
from cleave.realtime.hub import store
from cleave.testing.queries import queries_of
from contracts.identity import UserDeleted

pytestmark = pytest.mark.django_db(transaction=True)


def reader(user_id: int) -> Principal:
    return Principal(user_id=user_id, session_id="s", roles=frozenset({"user"}), expires_at=0)


def can_read(user_id: int, sharer_id: int) -> bool:
    stream = f"location:{sharer_id}"
    return realtime._readable(reader(user_id), [stream]) == {stream}


def position(stream: str) -> tuple[int, str | None]:
    """Where `stream` is now: the process's stream store outlives a test, so other tests'
    frames may be on it (a user id is reused by every test's first account)."""
    now = store().since(stream, 0, None, cap=0)
    return now.seq, now.epoch


def frames(
    stream: str, event: str, after: tuple[int, str | None] = (0, None)
) -> list[dict[str, Any]]:
    replay = store().since(stream, after[0], after[1], cap=100)
    assert replay.recovered, replay.reason
    parsed = [json.loads(frame) for _, frame in replay.entries]
    return [frame["data"] for frame in parsed if frame.get("event") == event]


@pytest.fixture
def ada(phone: Any) -> Any:
    user = phone(1)
    user.consent()
    return user


def test_a_share_with_a_user_lets_them_read_the_stream_and_nobody_else(ada: Any) -> None:
    created = ada.request("post", "/shares", {"user_id": 2, "minutes": 30})
    assert created.status_code == 201, created.content
    assert created.json()["stream"] == "location:1"
    assert (can_read(2, 1), can_read(3, 1)) == (True, False)
    assert realtime._initial(reader(2)) == ["location:1"]
    assert [s["id"] for s in ada.request("get", "/shares").json()["items"]] == [
        created.json()["id"]
    ]


def test_uploads_reach_the_stream_only_while_a_share_is_active(ada: Any) -> None:
    stream = "location:1"
    before = position(stream)
    ada.upload([at(1, 48.0, 2.0)])
    assert frames(stream, "location.updated", after=before) == []  # no share: nothing pushed
    ada.request("post", "/shares", {"user_id": 2, "minutes": 30})
    ada.upload([at(2, 47.0, 1.0), at(0.5, 48.5, 2.5)])
    pushed = frames(stream, "location.updated", after=before)
    assert (pushed[-1]["lat"], pushed[-1]["lon"], pushed[-1]["user_id"]) == (48.5, 2.5, 1)
    ada.upload([at(30, 40.0, 3.0)])  # a late upload: history, not where ada is now
    assert len(frames(stream, "location.updated", after=before)) == len(pushed)
    (share,) = ada.request("get", "/shares").json()["items"]
    ada.request("delete", f"/shares/{share['id']}")
    ada.upload([at(0.2, 48.6, 2.6)])  # revoked: nothing more
    assert len(frames(stream, "location.updated", after=before)) == len(pushed)


def test_a_deleted_user_s_live_frames_leave_the_stream_s_history(ada: Any) -> None:
    ada.request("post", "/shares", {"user_id": 2, "minutes": 30})
    ada.upload([at(1, 48.0, 2.0)])
    assert frames("location:1", "location.updated", after=(0, None))  # it can fail
    with captured_events(), transaction.atomic(using=database_for("tracking")):
        on_user_deleted(UserDeleted(aggregate_id="1", user_id=1))
    assert store().since("location:1", 0, None, cap=100).entries == []


def test_revoking_a_share_or_consent_ends_reading_at_once(ada: Any) -> None:
    share = ada.request("post", "/shares", {"user_id": 2, "minutes": 30}).json()
    revoked = ada.request("delete", f"/shares/{share['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert not can_read(2, 1)
    ada.request("post", "/shares", {"user_id": 3, "minutes": 30})
    ada.consent(False)
    assert not can_read(3, 1)


def test_an_expired_share_is_refused_and_then_detached(ada: Any) -> None:
    ada.request("post", "/shares", {"user_id": 2, "minutes": 30})
    Share.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not can_read(2, 1)
    before = position("user:2")
    assert shares_expire() == 1
    left = frames("user:2", "stream.left", after=before)
    assert {"stream": "location:1"} in left


def test_a_conversation_share_reaches_its_members_through_messagings_contract(
    ada: Any, messaging: Any
) -> None:
    messaging.members[10] = [1, 2, 3]
    assert ada.request("post", "/shares", {"conversation_id": 10, "minutes": 5}).status_code == 201
    assert (can_read(2, 1), can_read(3, 1), can_read(4, 1)) == (True, True, False)
    messaging.members[10] = [1, 2]  # 3 left the conversation
    assert not can_read(3, 1)


def test_sharing_needs_consent_and_one_audience(phone: Any) -> None:
    bob = phone(2)
    assert bob.request("post", "/shares", {"user_id": 1, "minutes": 5}).status_code == 403
    bob.consent()
    both = bob.request("post", "/shares", {"user_id": 1, "conversation_id": 3, "minutes": 5})
    assert both.json()["error"]["code"] == "invalid_share"
    self_share = bob.request("post", "/shares", {"user_id": 2, "minutes": 5})
    assert self_share.json()["error"]["code"] == "invalid_share"
    someone_elses = bob.request("delete", "/shares/999")
    assert someone_elses.status_code == 404


def test_a_made_up_stream_name_is_never_readable(ada: Any) -> None:
    streams = ["location:abc", "location:-1", "location:²", "location:99999999999999999999"]
    assert realtime._readable(reader(2), streams) == set()


def test_the_share_list_takes_the_same_queries_at_two_page_sizes(ada: Any) -> None:
    for user_id in range(2, 10):
        assert ada.request("post", "/shares", {"user_id": user_id, "minutes": 5}).status_code == 201

    def page(limit: int) -> list[str]:
        answer, queries = queries_of(lambda: ada.request("get", f"/shares?limit={limit}"))
        assert len(answer.json()["items"]) == limit
        return queries

    ada.request("get", "/shares")
    assert len(page(2)) == len(page(8))
