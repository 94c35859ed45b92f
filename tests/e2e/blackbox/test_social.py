"""Nobody is put into a group without consent, blocks hold, and sends have a budget (issue 16,
finding 7). Carol and dave are this module's own accounts: invitations fill carol's inbox and
dave's messages fill bob's, never alice's (test_notifications.py's).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import ws
from client import Api, User, error_of, expect, poll

SEND_LIMIT = 20  # the documented default: 20 messages per 10 s per user, REST and socket together
WINDOW = 10


@pytest.fixture(scope="module")
def carol(api: Api, admin: Api) -> User:
    return api.register("carol", vouched_by=admin)


@pytest.fixture(scope="module")
def dave(api: Api, admin: Api) -> User:
    return api.register("dave", vouched_by=admin)


def _presence(conn: Any, stream: str) -> list[int]:
    frame_id = f"p-{uuid.uuid4().hex[:8]}"
    ws.send(conn, {"type": "presence", "id": frame_id, "stream": stream})
    answer = ws.until(conn, lambda f: f.get("id") == frame_id)
    assert answer["type"] == "ack", answer
    return list(answer["online"])


def _invitations(api: Api, user: User) -> list[dict[str, Any]]:
    return list(expect(api.as_(user).get("/api/v1/invitations"), 200)["items"])


def test_a_group_invites_and_only_acceptance_makes_a_member(
    api: Api, bob: User, carol: User, websocket_url: str
) -> None:
    as_bob, as_carol = api.as_(bob), api.as_(carol)
    with (
        ws.socket(websocket_url, bob.access) as bob_socket,
        ws.socket(websocket_url, carol.access) as carol_socket,
    ):
        body = {"kind": "group", "members": [carol.id], "title": "e2e band"}
        created = expect(as_bob.post("/api/v1/conversations", body), 201)
        group, stream = created["id"], f"conv:{created['id']}"
        assert [m["user_id"] for m in created["members"]] == [bob.id]
        ws.until(bob_socket, ws.event("stream.joined", f"user:{bob.id}"))

        # Carol is online, invited, and neither a member nor visible to the group.
        assert carol.id not in _presence(bob_socket, stream)
        refused = error_of(as_carol.get(f"/api/v1/conversations/{group}"), 404)
        assert refused["code"] == "conversation_not_found"
        (invitation,) = [i for i in _invitations(api, carol) if i["conversation_id"] == group]
        assert (invitation["title"], invitation["invited_by"]) == ("e2e band", bob.id)

        # She accepts: a member, followed by her socket, announced to the group.
        joined = expect(as_carol.post(f"/api/v1/invitations/{invitation['id']}/accept"), 200)
        assert sorted(m["user_id"] for m in joined["members"]) == sorted([bob.id, carol.id])
        ws.until(carol_socket, ws.event("stream.joined", f"user:{carol.id}"))
        added = ws.until(bob_socket, ws.event("member.added", stream))
        assert added["data"]["user_id"] == carol.id
        assert carol.id in _presence(bob_socket, stream)

    # She leaves; bob can only invite her again, and she declines.
    expect(as_carol.request("DELETE", f"/api/v1/conversations/{group}/members/{carol.id}"), 204)
    again = expect(
        as_bob.post(f"/api/v1/conversations/{group}/members", {"user_id": carol.id}), 201
    )
    detail = expect(as_bob.get(f"/api/v1/conversations/{group}"), 200)
    assert [m["user_id"] for m in detail["members"]] == [bob.id]
    expect(as_carol.post(f"/api/v1/invitations/{again['id']}/decline"), 204)
    assert [i for i in _invitations(api, carol) if i["conversation_id"] == group] == []
    gone = error_of(as_carol.post(f"/api/v1/invitations/{again['id']}/accept"), 404)
    assert gone["code"] == "invitation_not_found"


def test_a_blocked_user_can_neither_write_to_nor_invite_the_blocker(
    api: Api, carol: User, dave: User
) -> None:
    as_carol, as_dave = api.as_(carol), api.as_(dave)
    expect(as_carol.post(f"/api/v1/users/{dave.id}/block"), 204)
    expect(as_carol.post(f"/api/v1/users/{dave.id}/block"), 204)  # idempotent
    blocks = expect(as_carol.get("/api/v1/blocks"), 200)["items"]
    assert [b["user_id"] for b in blocks] == [dave.id]
    assert error_of(as_carol.post(f"/api/v1/users/{carol.id}/block"), 422)["code"] == (
        "cannot_block_self"
    )

    direct = {"kind": "direct", "members": [carol.id]}

    def refused() -> dict[str, Any] | None:  # the block reaches messaging as an event
        answer = as_dave.post("/api/v1/conversations", direct)
        return answer.json()["error"] if answer.status_code == 403 else None

    assert poll(refused, what="messaging to refuse dave")["code"] == "user_unavailable"
    group = expect(
        as_dave.post("/api/v1/conversations", {"kind": "group", "members": [dave.id]}), 201
    )
    invite = as_dave.post(f"/api/v1/conversations/{group['id']}/members", {"user_id": carol.id})
    assert error_of(invite, 403)["code"] == "user_unavailable"

    expect(as_carol.request("DELETE", f"/api/v1/users/{dave.id}/block"), 204)
    assert expect(as_carol.get("/api/v1/blocks"), 200)["items"] == []

    def allowed() -> int | None:
        answer = as_dave.post("/api/v1/conversations", direct)
        return answer.status_code if answer.status_code in {200, 201} else None

    poll(allowed, what="messaging to let dave write again")


def test_sends_share_one_budget_over_rest_and_the_socket(
    api: Api, bob: User, dave: User, websocket_url: str
) -> None:
    as_dave = api.as_(dave)
    conversation = expect(
        as_dave.post("/api/v1/conversations", {"kind": "direct", "members": [bob.id]}), 201
    )["id"]
    path = f"/api/v1/conversations/{conversation}/messages"
    # Windows are fixed and aligned to their size: start at one's beginning (the server's clock
    # is this machine's under `make run`/`make split`), so all sends below fall in one window.
    time.sleep(WINDOW + 0.05 - time.time() % WINDOW)
    with ws.socket(websocket_url, dave.access) as conn:
        for n in range(SEND_LIMIT // 2):
            frame_id = f"s{n}"
            ws.send(
                conn,
                {
                    "type": "message.send",
                    "id": frame_id,
                    "conversation_id": conversation,
                    "text": f"socket {n}",
                    "client_msg_id": f"ws-{n}",
                },
            )
            answer = ws.until(conn, lambda f, i=frame_id: f.get("id") == i)
            assert answer["type"] == "ack", answer
        sent = 0
        while True:
            answer = as_dave.post(path, {"text": "rest", "client_msg_id": f"rest-{sent}"})
            if answer.status_code == 429:
                break
            expect(answer, 201)
            sent += 1
            assert sent <= SEND_LIMIT, "REST sends were never limited"
        assert sent == SEND_LIMIT // 2  # the socket's sends counted
        assert error_of(answer, 429)["code"] == "rate_limited"
        assert 1 <= int(answer.headers["Retry-After"]) <= WINDOW
        # a retry of a message already sent is answered, not refused
        expect(as_dave.post(path, {"text": "rest", "client_msg_id": "rest-0"}), 200)
        ws.send(
            conn,
            {
                "type": "message.send",
                "id": "over",
                "conversation_id": conversation,
                "text": "one too many",
                "client_msg_id": "ws-over",
            },
        )
        refused = ws.until(conn, lambda f: f.get("id") == "over")
        assert (refused["type"], refused["error"]["code"]) == ("error", "rate_limited")
