"""Messages: idempotent send, seq, paging, edit and tombstone delete, read marks, erasure."""

from __future__ import annotations

from typing import Any

import pytest

from apps.messaging.subscribers import on_user_deleted
from cleave.events import captured_events
from contracts.identity import UserDeleted
from contracts.messaging import MessageDeleted, MessageEdited, MessageSent, MessagesRead

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def chat(as_user: Any) -> tuple[Any, Any, int]:
    ada, bob = as_user(1, "Ada"), as_user(2, "Bob")
    cid = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    return ada, bob, cid


def test_sending_twice_with_the_same_client_id_returns_the_first_message(chat: Any) -> None:
    ada, bob, cid = chat
    with captured_events() as events:
        first = ada.call("post", f"/{cid}/messages", {"text": "hello", "client_msg_id": "c1"})
        retry = ada.call("post", f"/{cid}/messages", {"text": "hello", "client_msg_id": "c1"})
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json() == retry.json()
    assert first.json()["seq"] == 1
    [sent] = events
    assert isinstance(sent, MessageSent)
    assert (sent.recipient_ids, sent.preview, sent.seq) == ([2], "hello", 1)


def test_messages_page_forwards_and_backwards_in_seq_order(chat: Any) -> None:
    ada, bob, cid = chat
    for n in range(1, 8):
        (ada if n % 2 else bob).call(
            "post", f"/{cid}/messages", {"text": f"m{n}", "client_msg_id": f"c{n}"}
        )
    latest = bob.call("get", f"/{cid}/messages?limit=3").json()
    assert [m["seq"] for m in latest["items"]] == [5, 6, 7]
    older = bob.call("get", f"/{cid}/messages?limit=3&before_seq={latest['next_cursor']}").json()
    assert [m["seq"] for m in older["items"]] == [2, 3, 4]
    newer = bob.call("get", f"/{cid}/messages?after_seq=4&limit=2").json()
    assert [m["seq"] for m in newer["items"]] == [5, 6]
    assert newer["next_cursor"] == "6"


def test_only_the_sender_edits_and_a_delete_leaves_a_tombstone_in_sequence(chat: Any) -> None:
    ada, bob, cid = chat
    message = ada.call("post", f"/{cid}/messages", {"text": "typo", "client_msg_id": "c1"}).json()
    path = f"/{cid}/messages/{message['id']}"
    assert bob.call("patch", path, {"text": "hack"}).json()["error"]["code"] == "not_sender"
    with captured_events() as events:
        edited = ada.call("patch", path, {"text": "fixed"}).json()
        assert ada.call("delete", path).status_code == 204
    assert edited["text"] == "fixed"
    assert edited["edited_at"]
    assert [type(e) for e in events] == [MessageEdited, MessageDeleted]
    [tombstone] = bob.call("get", f"/{cid}/messages").json()["items"]
    assert (tombstone["seq"], tombstone["text"], tombstone["deleted"]) == (1, "", True)
    assert ada.call("patch", path, {"text": "again"}).json()["error"]["code"] == "message_deleted"


def test_text_limits_and_unknown_fields_are_refused(chat: Any) -> None:
    ada, _, cid = chat
    too_long = ada.call("post", f"/{cid}/messages", {"text": "é" * 2049, "client_msg_id": "x"})
    assert too_long.status_code == 422
    extra = ada.call("post", f"/{cid}/messages", {"text": "x", "client_msg_id": "y", "seq": 5})
    assert extra.status_code == 422


def test_read_marks_only_move_forward(chat: Any) -> None:
    ada, bob, cid = chat
    for n in range(3):
        ada.call("post", f"/{cid}/messages", {"text": "x", "client_msg_id": f"c{n}"})
    with captured_events() as events:
        assert bob.call("post", f"/{cid}/read", {"seq": 99}).json() == {"last_read_seq": 3}
        assert bob.call("post", f"/{cid}/read", {"seq": 1}).json() == {"last_read_seq": 3}
    assert [type(e) for e in events] == [MessagesRead]


def test_a_deleted_account_leaves_tombstones_and_its_conversations(chat: Any) -> None:
    ada, bob, cid = chat
    ada.call("post", f"/{cid}/messages", {"text": "from ada", "client_msg_id": "a"})
    bob.call("post", f"/{cid}/messages", {"text": "from bob", "client_msg_id": "b"})
    with captured_events():
        from django.db import transaction

        with transaction.atomic():
            on_user_deleted(UserDeleted(aggregate_id="1", user_id=1))
    items = bob.call("get", f"/{cid}/messages").json()["items"]
    assert [(m["seq"], m["text"], m["deleted"]) for m in items] == [
        (1, "", True),
        (2, "from bob", False),
    ]
    assert [m["user_id"] for m in bob.call("get", f"/{cid}").json()["members"]] == [2]


def test_editing_is_behind_a_flag_an_operator_can_turn_off(chat: Any) -> None:
    from cleave.flags.changes import flag_save
    from cleave.flags.definitions import forget_definitions

    ada, _, cid = chat
    message = ada.call("post", f"/{cid}/messages", {"text": "v1", "client_msg_id": "c1"}).json()
    path = f"/{cid}/messages/{message['id']}"
    assert ada.call("patch", path, {"text": "v2"}).status_code == 200  # no flag: on
    flag_save(name="messaging.edit", changes={"everyone": False}, actor="test")
    forget_definitions()
    refused = ada.call("patch", path, {"text": "v3"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "feature_disabled")
