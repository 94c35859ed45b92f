"""messaging's admin writes only through messaging's services (issue 18): a moderation delete
is the API's delete (tombstone over REST, MessageDeleted, a frame on the conversation's
stream), and conversations, members, invitations and blocks are not edited by hand."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.messaging.models import Block, Conversation, Invitation, Member, Message
from apps.messaging.services.frames import conversation_stream
from cleave.contracts.base import Event
from cleave.events import captured_events
from cleave.realtime.hub import store
from contracts.messaging import MessageDeleted

pytestmark = pytest.mark.django_db(transaction=True)


def _fields(event: Event, *names: str) -> tuple[Any, ...]:
    """An event's fields by name: `captured_events` yields the base type, whatever the event."""
    data = event.model_dump()
    return tuple(data[name] for name in names)


@pytest.fixture
def staff() -> Client:
    # identity's user model when identity is hosted here, Django's own when messaging runs alone.
    user_model = get_user_model()
    root = user_model.objects.create_superuser(
        **{user_model.USERNAME_FIELD: "root@example.com", "password": "x" * 20}
    )
    browser = Client()
    browser.force_login(root)
    return browser


@pytest.fixture
def chat(as_user: Any) -> tuple[Any, Any, int]:
    ada, bob = as_user(1, "Ada"), as_user(2, "Bob")
    cid = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    return ada, bob, cid


def _frames_since(conversation_id: int, seq: int) -> list[dict[str, Any]]:
    replay = store().since(conversation_stream(conversation_id), seq, None, cap=100)
    return [json.loads(frame) for _, frame in replay.entries]


def _stream_seq(conversation_id: int) -> int:
    return store().since(conversation_stream(conversation_id), 0, None, cap=1000).seq


def test_a_moderation_delete_is_the_services_delete(staff: Client, chat: Any) -> None:
    ada, bob, cid = chat
    sent = ada.call("post", f"/{cid}/messages", {"text": "spam", "client_msg_id": "c1"}).json()
    ada.call("post", f"/{cid}/messages", {"text": "fine", "client_msg_id": "c2"})
    stream_seq = _stream_seq(cid)

    with captured_events() as events:
        response = staff.post(
            "/admin/messaging/message/",
            {"action": "delete_for_moderation", "_selected_action": [sent["id"]]},
        )

    assert response.status_code == 302
    assert [(type(e), *_fields(e, "message_id", "seq")) for e in events] == [
        (MessageDeleted, sent["id"], 1)
    ]
    items = bob.call("get", f"/{cid}/messages").json()["items"]
    assert [(m["seq"], m["text"], m["deleted"]) for m in items] == [
        (1, "", True),
        (2, "fine", False),
    ]
    frames = _frames_since(cid, stream_seq)
    assert [(f["event"], f["data"]["id"], f["data"]["deleted"]) for f in frames] == [
        ("message.deleted", sent["id"], True)
    ]


def test_a_message_deleted_twice_publishes_once(staff: Client, chat: Any) -> None:
    ada, _, cid = chat
    sent = ada.call("post", f"/{cid}/messages", {"text": "spam", "client_msg_id": "c1"}).json()
    assert ada.call("delete", f"/{cid}/messages/{sent['id']}").status_code == 204
    with captured_events() as events:
        staff.post(
            "/admin/messaging/message/",
            {"action": "delete_for_moderation", "_selected_action": [sent["id"]]},
        )
    assert events == []


def test_rows_only_services_write_cannot_be_added_edited_or_deleted_by_hand(
    staff: Client, chat: Any, as_user: Any
) -> None:
    ada, _, cid = chat
    ada.call("post", f"/{cid}/messages", {"text": "hello", "client_msg_id": "c1"})
    as_user(3, "Cy")
    group = ada.call("post", "", {"kind": "group", "title": "Team", "members": [3]}).json()
    Block.objects.create(blocker_id=2, blocked_id=3)  # the copy identity's events keep
    rows = {
        "conversation": Conversation.objects.get(pk=cid).pk,
        "message": Message.objects.get().pk,
        "invitation": Invitation.objects.get(conversation_id=group["id"]).pk,
        "block": Block.objects.get().pk,
    }
    with captured_events() as events:
        for model, pk in rows.items():
            path = f"/admin/messaging/{model}/{pk}"
            assert staff.get(f"{path}/change/").status_code == 200, model
            assert staff.post(f"{path}/change/", {"title": "x"}).status_code == 403, model
            assert staff.post(f"{path}/delete/", {"post": "yes"}).status_code == 403, model
            assert staff.get(f"/admin/messaging/{model}/add/").status_code == 403, model
    assert events == []
    assert Conversation.objects.filter(pk=cid, title="").exists()
    assert Member.objects.filter(conversation_id=cid).count() == 2
    assert Message.objects.get().text == "hello"
