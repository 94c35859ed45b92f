"""Invitations: nobody becomes a member of a group without accepting (issue 16, finding 7)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

from cleave.events import captured_events
from contracts.messaging import (
    ConversationCreated,
    InvitationDeclined,
    InvitationSent,
    MemberAdded,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_naming_people_in_a_new_group_invites_them_and_only_the_creator_is_a_member(
    as_user: Any,
) -> None:
    ada, bob = as_user(1), as_user(2)
    with captured_events() as events:
        created = ada.call("post", "", {"kind": "group", "members": [2], "title": "G"})
    assert created.status_code == 201
    assert [m["user_id"] for m in created.json()["members"]] == [1]
    created_event, invited = events
    assert isinstance(created_event, ConversationCreated)
    assert isinstance(invited, InvitationSent)
    assert created_event.member_ids == [1]
    gid = created.json()["id"]
    assert bob.call("get", f"/{gid}").status_code == 404
    assert bob.call("get", f"/{gid}/messages").status_code == 404
    (invitation,) = bob.request("get", "/api/v1/invitations").json()["items"]
    assert (invitation["conversation_id"], invitation["title"], invitation["invited_by"]) == (
        gid,
        "G",
        1,
    )


def test_accepting_makes_a_member_and_announces_it(as_user: Any) -> None:
    ada, bob = as_user(1), as_user(2)
    gid = ada.call("post", "", {"kind": "group", "members": [2], "title": "G"}).json()["id"]
    (invitation,) = bob.request("get", "/api/v1/invitations").json()["items"]
    with captured_events() as events:
        joined = bob.request("post", f"/api/v1/invitations/{invitation['id']}/accept")
    assert joined.status_code == 200
    assert {m["user_id"] for m in joined.json()["members"]} == {1, 2}
    (added,) = events
    assert isinstance(added, MemberAdded)
    assert added.added_by == 1
    again = bob.request("post", f"/api/v1/invitations/{invitation['id']}/accept")
    assert (again.status_code, again.json()["error"]["code"]) == (404, "invitation_not_found")
    assert bob.call("get", f"/{gid}").status_code == 200


def test_declining_leaves_no_membership_and_only_the_invitee_may_answer(as_user: Any) -> None:
    ada, bob = as_user(1), as_user(2)
    ada.call("post", "", {"kind": "group", "members": [2], "title": "G"})
    (invitation,) = bob.request("get", "/api/v1/invitations").json()["items"]
    for path in ("accept", "decline"):
        theirs = ada.request("post", f"/api/v1/invitations/{invitation['id']}/{path}")
        assert (theirs.status_code, theirs.json()["error"]["code"]) == (404, "invitation_not_found")
    with captured_events() as events:
        declined = bob.request("post", f"/api/v1/invitations/{invitation['id']}/decline")
    assert declined.status_code == 204
    assert [type(e) for e in events] == [InvitationDeclined]
    assert bob.request("get", "/api/v1/invitations").json()["items"] == []
    assert bob.call("get", "").json()["items"] == []


def test_inviting_twice_keeps_one_open_invitation_and_a_member_is_not_invited(
    as_user: Any,
) -> None:
    ada, bob = as_user(1), as_user(2)
    as_user(3)
    gid = ada.call("post", "", {"kind": "group", "members": [3], "title": "G"}).json()["id"]
    first = ada.call("post", f"/{gid}/members", {"user_id": 2})
    second = ada.call("post", f"/{gid}/members", {"user_id": 2})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    bob.accept_invitations()
    member = ada.call("post", f"/{gid}/members", {"user_id": 2})
    assert (member.status_code, member.json()["error"]["code"]) == (409, "already_member")


def test_the_invitation_list_is_paginated_in_one_query_per_page(as_user: Any) -> None:
    bob = as_user(2)
    for owner_id in (1, 3, 4):
        as_user(owner_id).call("post", "", {"kind": "group", "members": [2], "title": "G"})
    reset_queries()  # each request resets the log: a count from a non-empty one reads 0
    with CaptureQueriesContext(connection) as queries:
        page = bob.request("get", "/api/v1/invitations?limit=2").json()
    assert len(page["items"]) == 2
    assert page["next_cursor"]
    assert len(queries) == 1
    rest = bob.request("get", f"/api/v1/invitations?limit=2&cursor={page['next_cursor']}").json()
    assert [i["invited_by"] for i in page["items"] + rest["items"]] == [4, 3, 1]
