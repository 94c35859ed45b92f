"""Blocks (messaging's copy, from identity's events) and the per-user send limit."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from apps.messaging.models import Block
from apps.messaging.subscribers import on_user_blocked, on_user_deleted, on_user_unblocked
from apps.messaging.throttles import send_limit
from cleave.events import captured_events
from contracts.identity import UserBlocked, UserDeleted, UserUnblocked

pytestmark = pytest.mark.django_db(transaction=True)


def _apply(handler: Any, event: Any) -> None:
    with captured_events(), transaction.atomic():  # subscribers run in the bus's transaction
        handler(event)


def _block(blocker_id: int, blocked_id: int) -> None:
    event = UserBlocked(aggregate_id=str(blocker_id), blocker_id=blocker_id, blocked_id=blocked_id)
    _apply(on_user_blocked, event)
    _apply(on_user_blocked, event)  # delivered twice (at least once): no second effect


def _refused(response: Any) -> bool:
    return (response.status_code, response.json()["error"]["code"]) == (403, "user_unavailable")


def test_a_blocked_user_cannot_start_a_direct_conversation_either_way(as_user: Any) -> None:
    ada, bob = as_user(1), as_user(2)
    _block(1, 2)
    assert _refused(bob.call("post", "", {"kind": "direct", "members": [1]}))
    assert _refused(ada.call("post", "", {"kind": "direct", "members": [2]}))
    _apply(on_user_unblocked, UserUnblocked(aggregate_id="1", blocker_id=1, blocked_id=2))
    assert bob.call("post", "", {"kind": "direct", "members": [1]}).status_code == 201


def test_a_blocked_user_cannot_invite_the_blocker_nor_name_them_in_a_new_group(
    as_user: Any,
) -> None:
    ada, bob = as_user(1), as_user(2)
    as_user(3)
    _block(1, 2)
    assert _refused(bob.call("post", "", {"kind": "group", "members": [1, 3], "title": "G"}))
    gid = bob.call("post", "", {"kind": "group", "members": [3], "title": "G"}).json()["id"]
    assert _refused(bob.call("post", f"/{gid}/members", {"user_id": 1}))
    assert ada.request("get", "/api/v1/invitations").json()["items"] == []


def test_a_block_withdraws_the_blocked_users_open_invitations(as_user: Any) -> None:
    ada, bob = as_user(1), as_user(2)
    bob.call("post", "", {"kind": "group", "members": [1], "title": "G"})
    assert len(ada.request("get", "/api/v1/invitations").json()["items"]) == 1
    _block(1, 2)
    assert ada.request("get", "/api/v1/invitations").json()["items"] == []


def test_an_existing_direct_conversation_is_read_only_for_both_while_a_block_stands(
    as_user: Any,
) -> None:
    ada, bob = as_user(1), as_user(2)
    cid = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    bob.call("post", f"/{cid}/messages", {"text": "before", "client_msg_id": "b0"})
    _block(1, 2)
    assert _refused(bob.call("post", f"/{cid}/messages", {"text": "hi", "client_msg_id": "b1"}))
    assert _refused(ada.call("post", f"/{cid}/messages", {"text": "hi", "client_msg_id": "a1"}))
    history = ada.call("get", f"/{cid}/messages").json()["items"]
    assert [m["text"] for m in history] == ["before"]


def test_a_deleted_accounts_blocks_are_forgotten(as_user: Any) -> None:
    ada = as_user(1)
    as_user(2)
    _block(2, 1)
    assert _refused(ada.call("post", "", {"kind": "direct", "members": [2]}))
    _apply(on_user_deleted, UserDeleted(aggregate_id="2", user_id=2))
    assert not Block.objects.exists()


def test_sends_past_the_limit_are_refused_and_retries_are_free(as_user: Any, settings: Any) -> None:
    settings.CLEAVE_MESSAGING_SEND_RATE = "3/h"  # an hour's window: the test never straddles one
    ada, bob = as_user(1), as_user(2)
    cid = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    for n in range(3):
        sent = ada.call("post", f"/{cid}/messages", {"text": "x", "client_msg_id": f"a{n}"})
        assert sent.status_code == 201
        # Retries within the budget are counted, then given back: the next new one still fits.
        for _ in range(2):
            again = ada.call("post", f"/{cid}/messages", {"text": "x", "client_msg_id": f"a{n}"})
            assert again.status_code == 200
    retry = ada.call("post", f"/{cid}/messages", {"text": "x", "client_msg_id": "a0"})
    assert retry.status_code == 200  # over the budget too: it gets its first message back
    refused = ada.call("post", f"/{cid}/messages", {"text": "x", "client_msg_id": "a3"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (429, "rate_limited")
    assert 1 <= int(refused["Retry-After"]) <= 3600
    # the budget is the sender's own
    assert (
        bob.call("post", f"/{cid}/messages", {"text": "y", "client_msg_id": "b"}).status_code == 201
    )


def test_a_malformed_send_rate_is_refused(settings: Any) -> None:
    settings.CLEAVE_MESSAGING_SEND_RATE = "20 per 10s"
    with pytest.raises(ValueError, match="Rate must look like"):
        send_limit()
