"""Delta sync from outside: an app that kept a token learns what changed in its conversation list
and inbox, and what left its list, without refetching everything; a bad token is 410."""

from __future__ import annotations

import uuid
from typing import Any

from client import Api, User, error_of, expect, poll


def _direct(api: Api, one: User, other: User) -> int:
    """The pair's direct conversation (201 the first time, 200 after)."""
    created = api.as_(one).post("/api/v1/conversations", {"kind": "direct", "members": [other.id]})
    assert created.status_code in {200, 201}, created.text
    return int(created.json()["id"])


def _token(api: Api, who: User, path: str) -> str:
    start = expect(api.as_(who).get(path), 200)
    assert (start["changed"], start["deleted"]) == ([], [])
    return str(start["sync_token"])


def _delta(api: Api, who: User, path: str, token: str) -> dict[str, Any]:
    return dict(expect(api.as_(who).get(path, params={"since": token}), 200))


def test_a_conversation_with_a_new_message_comes_back_changed(
    api: Api, bob: User, erin: User
) -> None:
    conversation = _direct(api, bob, erin)
    token = _token(api, erin, "/api/v1/conversations/sync")

    sent = api.as_(bob).send(conversation, f"sync {uuid.uuid4().hex[:6]}")

    delta = _delta(api, erin, "/api/v1/conversations/sync", token)
    [entry] = [c for c in delta["changed"] if c["id"] == conversation]
    assert entry["last_seq"] == sent["seq"]
    assert conversation not in delta["deleted"]
    assert delta["sync_token"] != token


def test_a_conversation_i_was_removed_from_comes_back_deleted(
    api: Api, bob: User, erin: User
) -> None:
    group = expect(
        api.as_(bob).post(
            "/api/v1/conversations", {"kind": "group", "members": [erin.id], "title": "sync"}
        ),
        201,
    )["id"]
    invitations = expect(api.as_(erin).get("/api/v1/invitations"), 200)["items"]
    (invitation,) = [i for i in invitations if i["conversation_id"] == group]
    expect(api.as_(erin).post(f"/api/v1/invitations/{invitation['id']}/accept"), 200)
    token = _token(api, erin, "/api/v1/conversations/sync")

    expect(api.as_(bob).request("DELETE", f"/api/v1/conversations/{group}/members/{erin.id}"), 204)

    delta = _delta(api, erin, "/api/v1/conversations/sync", token)
    assert group in delta["deleted"]
    assert group not in [c["id"] for c in delta["changed"]]


def test_a_new_notification_comes_back_in_the_inbox_delta(api: Api, bob: User, erin: User) -> None:
    conversation = _direct(api, bob, erin)
    token = _token(api, erin, "/api/v1/notifications/sync")

    sent = api.as_(bob).send(conversation, f"inbox sync {uuid.uuid4().hex[:6]}")

    def arrived() -> dict[str, Any] | None:
        delta = _delta(api, erin, "/api/v1/notifications/sync", token)
        mine = [
            i
            for i in delta["changed"]
            if i["data"].get("seq") == sent["seq"]
            and i["data"].get("conversation_id") == conversation
        ]
        return mine[0] if mine else None

    item = poll(arrived, what="the message's notification in erin's inbox delta")
    assert item["read"] is False


def test_a_token_that_is_not_ours_is_sync_expired(api: Api, erin: User) -> None:
    for path in ("/api/v1/conversations/sync", "/api/v1/notifications/sync"):
        response = api.as_(erin).get(path, params={"since": "s1.1"})  # 1970: long purged
        assert error_of(response, 410)["code"] == "sync_expired"
