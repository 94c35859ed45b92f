"""Conversations: direct and group, membership rules, no existence leaks."""

from __future__ import annotations

from typing import Any

import pytest

from cleave.events import captured_events
from contracts.messaging import ConversationCreated, InvitationSent, MemberAdded, MemberRemoved

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_direct_conversation_is_created_once_per_pair(as_user: Any) -> None:
    ada, bob = as_user(1, "Ada"), as_user(2, "Bob")
    with captured_events() as events:
        first = ada.call("post", "", {"kind": "direct", "members": [2]})
    assert first.status_code == 201
    body = first.json()
    assert [(m["user_id"], m["display_name"]) for m in body["members"]] == [(1, "Ada"), (2, "Bob")]
    assert [type(e) for e in events] == [ConversationCreated]
    again = bob.call("post", "", {"kind": "direct", "members": [1]})
    assert (again.status_code, again.json()["id"]) == (200, body["id"])


def test_members_must_be_active_accounts(as_user: Any, identity: Any) -> None:
    ada = as_user(1)
    identity.add(3, active=False)
    response = ada.call("post", "", {"kind": "group", "members": [3, 99], "title": "x"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_members"
    assert response.json()["error"]["details"]["user_ids"] == [3, 99]


def test_a_direct_conversation_needs_exactly_one_other_person(as_user: Any) -> None:
    ada = as_user(1)
    as_user(2)
    as_user(3)
    response = ada.call("post", "", {"kind": "direct", "members": [2, 3]})
    assert response.json()["error"]["code"] == "invalid_members"


def test_the_owner_adds_and_removes_members_and_members_may_leave(as_user: Any) -> None:
    owner, bob, cy = as_user(1), as_user(2), as_user(3)
    group = owner.call("post", "", {"kind": "group", "members": [2], "title": "Team"}).json()
    gid = group["id"]
    assert bob.accept_invitations() == [gid]
    denied = bob.call("post", f"/{gid}/members", {"user_id": 3})
    assert denied.json()["error"]["code"] == "not_owner"
    with captured_events() as events:
        invited = owner.call("post", f"/{gid}/members", {"user_id": 3})
        assert invited.status_code == 201
        assert cy.accept_invitations() == [gid]
        assert cy.call("delete", f"/{gid}/members/3").status_code == 204  # cy leaves
        assert owner.call("delete", f"/{gid}/members/2").status_code == 204  # bob removed
    assert [type(e) for e in events] == [InvitationSent, MemberAdded, MemberRemoved, MemberRemoved]
    assert bob.call("get", f"/{gid}").status_code == 404


def test_a_leaving_owner_hands_the_group_over(as_user: Any) -> None:
    owner, bob = as_user(1), as_user(2)
    gid = owner.call("post", "", {"kind": "group", "members": [2], "title": "T"}).json()["id"]
    bob.accept_invitations()
    owner.call("delete", f"/{gid}/members/1")
    roles = {m["user_id"]: m["role"] for m in bob.call("get", f"/{gid}").json()["members"]}
    assert roles == {2: "owner"}


def test_non_members_get_404_for_everything(as_user: Any) -> None:
    ada, outsider = as_user(1), as_user(9)
    as_user(2)
    gid = ada.call("post", "", {"kind": "group", "members": [2], "title": "T"}).json()["id"]
    for method, path, body in (
        ("get", f"/{gid}", None),
        ("get", f"/{gid}/messages", None),
        ("post", f"/{gid}/messages", {"text": "hi", "client_msg_id": "x"}),
        ("post", f"/{gid}/members", {"user_id": 9}),
        ("post", f"/{gid}/read", {"seq": 1}),
        ("get", "/424242", None),
    ):
        response = outsider.call(method, path, body)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "conversation_not_found"


def test_the_list_shows_unread_counts_and_is_paginated(as_user: Any) -> None:
    ada, bob = as_user(1), as_user(2)
    as_user(3)
    direct = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    group = ada.call("post", "", {"kind": "group", "members": [2, 3], "title": "G"}).json()["id"]
    bob.accept_invitations()
    for n in range(3):
        ada.call("post", f"/{direct}/messages", {"text": f"m{n}", "client_msg_id": f"d{n}"})
    bob.call("post", f"/{group}/messages", {"text": "mine", "client_msg_id": "g1"})
    page = bob.call("get", "?limit=1").json()
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    rest = bob.call("get", f"?limit=5&cursor={page['next_cursor']}").json()
    unread = {c["id"]: c["unread"] for c in page["items"] + rest["items"]}
    assert unread == {direct: 3, group: 0}  # own messages are never unread
    bob.call("post", f"/{direct}/read", {"seq": 2})
    after = {c["id"]: c["unread"] for c in bob.call("get", "").json()["items"]}
    assert after[direct] == 1


def test_ids_beyond_the_database_range_are_invalid_input_not_errors(as_user: Any) -> None:
    ada = as_user(1)
    huge = 2**64
    assert ada.call("post", "", {"kind": "direct", "members": [huge]}).status_code == 422
    assert ada.call("get", f"/{huge}").status_code == 422
    assert ada.call("get", f"/{huge}/messages").status_code == 422
