"""Messages (and invitations) become notifications, through events between contexts: poll,
never sleep.

Alice is the recipient here and nowhere else (test_chat.py only has her send), so her inbox
and badge hold exactly what these tests send her.
"""

from __future__ import annotations

from typing import Any

import ws
from client import Api, User, error_of, expect, poll


def _group(api: Api, owner: User, member: User, title: str) -> int:
    """A group of `owner` that `member` joined: invited, told so (an inbox item), accepted."""
    body = {"kind": "group", "members": [member.id], "title": title}
    conversation = int(expect(api.as_(owner).post("/api/v1/conversations", body), 201)["id"])
    invited = poll(
        lambda: _inbox_when(api, member, conversation, count=1, kind="invitation"),
        what="the invitation in the member's inbox",
    )
    (invitation,) = invited
    accept = f"/api/v1/invitations/{invitation['data']['invitation_id']}/accept"
    expect(api.as_(member).post(accept), 200)
    return conversation


def _inbox_of(
    api: Api, user: User, conversation: int, *, kind: str = "message"
) -> list[dict[str, Any]]:
    page = expect(api.as_(user).get("/api/v1/notifications", params={"limit": 100}), 200)
    return [
        i
        for i in page["items"]
        if i["data"].get("conversation_id") == conversation and i["kind"] == kind
    ]


def _inbox_when(
    api: Api, user: User, conversation: int, *, count: int, kind: str = "message"
) -> list[Any] | None:
    """The user's items (of `kind`) for the conversation once there are `count` of them."""
    items = _inbox_of(api, user, conversation, kind=kind)
    return items if len(items) >= count else None


def test_messages_to_an_offline_user_fill_their_inbox_and_badge(
    api: Api, alice: User, bob: User
) -> None:
    as_alice = api.as_(alice)
    conversation = _group(api, bob, alice, "inbox")
    expect(as_alice.post("/api/v1/notifications/read-all"), 200)  # the invitation too

    # When bob writes three messages while alice has no socket open.
    sent = [api.as_(bob).send(conversation, f"note {n}") for n in range(3)]

    # Then each becomes an inbox item of hers, newest first, saying who and where.
    items = poll(
        lambda: _inbox_when(api, alice, conversation, count=3), what="three inbox items for alice"
    )
    assert [i["body"] for i in items] == [m["text"] for m in reversed(sent)]
    assert [i["data"] for i in items] == [
        {"conversation_id": conversation, "seq": m["seq"], "sender_id": bob.id}
        for m in reversed(sent)
    ]
    # Titled with the sender's name, which notifications asks identity for.
    assert {(i["kind"], i["title"], i["read"]) for i in items} == {("message", "bob", False)}
    assert expect(as_alice.get("/api/v1/notifications/badge"), 200) == {"unread": 3}

    # Reading one lowers the badge; bob cannot touch alice's item; read-all empties it.
    assert expect(as_alice.post(f"/api/v1/notifications/{items[0]['id']}/read"), 200) == {
        "unread": 2
    }
    stranger = error_of(api.as_(bob).post(f"/api/v1/notifications/{items[1]['id']}/read"), 404)
    assert stranger["code"] == "notification_not_found"
    assert expect(as_alice.post("/api/v1/notifications/read-all"), 200) == {"unread": 0}
    assert [i["read"] for i in _inbox_of(api, alice, conversation)] == [True, True, True]
    assert expect(as_alice.get("/api/v1/notifications/badge"), 200) == {"unread": 0}


def test_an_online_user_is_told_on_their_own_stream(
    api: Api, alice: User, bob: User, websocket_url: str
) -> None:
    conversation = _group(api, bob, alice, "live")
    with ws.socket(websocket_url, alice.access) as conn:
        sent = api.as_(bob).send(conversation, "are you there?")

        told = ws.until(conn, ws.event("notification.new", f"user:{alice.id}"), timeout=15)
    assert told["data"]["body"] == "are you there?"
    assert told["data"]["data"] == {
        "conversation_id": conversation,
        "seq": sent["seq"],
        "sender_id": bob.id,
    }
    assert isinstance(told["seq"], int)
    items = poll(lambda: _inbox_when(api, alice, conversation, count=1), what="the inbox item")
    assert [i["id"] for i in items] == [told["data"]["id"]]


def test_preferences_follow_identity_and_mute_a_conversation(
    api: Api, alice: User, bob: User
) -> None:
    conversation = _group(api, bob, alice, "muted")
    as_alice = api.as_(alice)

    # The time zone reaches notifications from identity, by event.
    expect(as_alice.patch("/api/v1/me", {"timezone": "Europe/Paris"}), 200)
    poll(
        lambda: _preferences_if(as_alice, timezone="Europe/Paris"),
        what="notifications to learn alice's time zone",
    )

    muted = expect(
        as_alice.patch(
            "/api/v1/notifications/preferences",
            {"quiet_start": "22:00", "quiet_end": "07:00", "mute": [conversation]},
        ),
        200,
    )
    assert muted == {
        "timezone": "Europe/Paris",
        "quiet_start": "22:00:00",
        "quiet_end": "07:00:00",
        "muted_conversations": [conversation],
    }
    assert expect(as_alice.get("/api/v1/notifications/preferences"), 200) == muted

    cleared = {"quiet_start": None, "quiet_end": None, "unmute": [conversation]}
    unmuted = expect(as_alice.patch("/api/v1/notifications/preferences", cleared), 200)
    assert (unmuted["quiet_start"], unmuted["quiet_end"]) == (None, None)
    assert unmuted["muted_conversations"] == []


def test_a_partial_preferences_patch_keeps_the_quiet_hours(
    api: Api, alice: User, bob: User
) -> None:
    conversation = _group(api, bob, alice, "partial")
    as_alice = api.as_(alice)
    quiet = {"quiet_start": "23:00", "quiet_end": "06:00"}
    expect(as_alice.patch("/api/v1/notifications/preferences", quiet), 200)
    try:
        after = expect(
            as_alice.patch("/api/v1/notifications/preferences", {"mute": [conversation]}), 200
        )
        assert (after["quiet_start"], after["quiet_end"]) == ("23:00:00", "06:00:00")
    finally:
        reset = {"quiet_start": None, "quiet_end": None, "unmute": [conversation]}
        expect(as_alice.patch("/api/v1/notifications/preferences", reset), 200)


def _preferences_if(api: Api, *, timezone: str) -> dict[str, Any] | None:
    prefs = expect(api.get("/api/v1/notifications/preferences"), 200)
    return dict(prefs) if prefs["timezone"] == timezone else None
