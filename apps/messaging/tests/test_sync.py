"""Delta sync of the conversation list: what changed for me since a token, what left my list
(tombstones), and a token too old for the tombstones kept."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from apps.messaging.models import Conversation, ConversationTombstone, Member
from cleave.sync import purge_tombstones, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def _settled() -> str:
    """Everything so far happened an hour ago; a token from half an hour ago."""
    hour_ago = timezone.now() - timedelta(hours=1)
    Conversation.objects.update(changed_at=hour_ago)
    Member.objects.update(changed_at=hour_ago)
    ConversationTombstone.objects.update(removed_at=hour_ago)
    return token_for(timezone.now() - timedelta(minutes=30))


def _sync(who: Any, since: str | None) -> dict[str, Any]:
    query = f"?since={since}" if since else ""
    response = who.call("get", f"/sync{query}")
    assert response.status_code == 200, response.content
    return dict(response.json())


def test_starting_a_sync_hands_out_a_token_and_nothing_else(as_user: Any) -> None:
    ada = as_user(1)
    body = _sync(ada, None)
    assert (body["changed"], body["deleted"]) == ([], [])
    assert body["sync_token"].startswith("s1.")


def test_a_new_message_shows_the_conversation_as_changed_with_its_unread_count(
    as_user: Any,
) -> None:
    ada, bob = as_user(1), as_user(2)
    conversation = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    token = _settled()
    assert _sync(bob, token)["changed"] == []

    ada.call("post", f"/{conversation}/messages", {"text": "hi", "client_msg_id": "m1"})

    [changed] = _sync(bob, token)["changed"]
    assert (changed["id"], changed["last_seq"], changed["unread"]) == (conversation, 1, 1)


def test_my_read_mark_changes_my_entry_only(as_user: Any) -> None:
    ada, bob = as_user(1), as_user(2)
    conversation = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    ada.call("post", f"/{conversation}/messages", {"text": "hi", "client_msg_id": "m1"})
    token = _settled()

    bob.call("post", f"/{conversation}/read", {"seq": 1})

    assert [c["unread"] for c in _sync(bob, token)["changed"]] == [0]
    assert _sync(ada, token)["changed"] == []


def test_a_removed_member_gets_a_tombstone_and_the_others_a_change(as_user: Any) -> None:
    owner, bob = as_user(1), as_user(2)
    group = owner.call("post", "", {"kind": "group", "members": [2], "title": "T"}).json()["id"]
    bob.accept_invitations()
    token = _settled()

    assert owner.call("delete", f"/{group}/members/2").status_code == 204

    bobs = _sync(bob, token)
    assert (bobs["changed"], bobs["deleted"]) == ([], [group])
    [owners] = _sync(owner, token)["changed"]
    assert owners["member_ids"] == [1]


def test_a_member_who_left_and_came_back_is_not_told_to_drop_it(as_user: Any) -> None:
    owner, bob = as_user(1), as_user(2)
    group = owner.call("post", "", {"kind": "group", "members": [2], "title": "T"}).json()["id"]
    bob.accept_invitations()
    token = _settled()
    owner.call("delete", f"/{group}/members/2")
    owner.call("post", f"/{group}/members", {"user_id": 2})
    bob.accept_invitations()

    body = _sync(bob, token)

    assert ([c["id"] for c in body["changed"]], body["deleted"]) == ([group], [])


def test_a_token_older_than_the_tombstones_or_not_ours_is_sync_expired(as_user: Any) -> None:
    ada = as_user(1)
    for token in (token_for(timezone.now() - timedelta(days=31)), "garbage"):
        response = ada.call("get", f"/sync?since={token}")
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "sync_expired"


def test_tombstones_are_purged_after_30_days() -> None:
    old = ConversationTombstone.objects.create(user_id=1, conversation_id=1)
    ConversationTombstone.objects.filter(pk=old.pk).update(
        removed_at=timezone.now() - timedelta(days=31)
    )
    recent = ConversationTombstone.objects.create(user_id=1, conversation_id=2)

    assert purge_tombstones()["messaging.conversations"] == 1

    assert list(ConversationTombstone.objects.values_list("pk", flat=True)) == [recent.pk]
