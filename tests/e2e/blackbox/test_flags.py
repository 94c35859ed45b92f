"""Feature flags from outside: an operator flips a flag, apps see it (ETag-aware, eventually).

Each run creates its own flag (`e2e.blackbox-<hex>`) and leaves it off: the ops API has no
delete, so a long-lived deployment keeps one dead flag per run.
"""

from __future__ import annotations

import uuid
from typing import Any

import ws
from client import Api, User, error_of, expect, poll


def _flag_once_changed(
    api: Api, name: str, etag: str, *, value: bool, params: dict[str, str] | None = None
) -> tuple[dict[str, Any], str] | None:
    """The flag and the new ETag once the answer differs from `etag` and has the flag at
    `value`; None while it is still 304 (definitions may lag in a deployment's cache)."""
    response = api.get("/api/v1/flags", params=params, headers={"If-None-Match": etag})
    if response.status_code == 304:
        return None
    flag = expect(response, 200)["flags"].get(name)
    if flag is None or flag["value"] is not value:
        return None
    return dict(flag), response.headers["ETag"]


def test_an_admin_turns_a_flag_on_then_off_and_a_user_sees_both(
    api: Api, admin: Api, alice: User, websocket_url: str
) -> None:
    name = f"e2e.blackbox-{uuid.uuid4().hex[:10]}"
    as_alice = api.as_(alice)
    first = as_alice.get("/api/v1/flags")
    assert name not in expect(first, 200)["flags"]
    etag = first.headers["ETag"]
    assert as_alice.get("/api/v1/flags", headers={"If-None-Match": etag}).status_code == 304

    # When an operator creates it, on for everyone and visible to apps.
    with ws.socket(websocket_url, alice.access) as conn:
        created = expect(
            admin.put(
                f"/api/ops/flags/{name}/",
                {"everyone": True, "client_visible": True, "note": "black-box e2e"},
            ),
            200,
        )
        assert (created["name"], created["everyone"], created["killed"]) == (name, True, False)
        # Then sockets are told something changed ...
        changed = ws.until(conn, ws.event("flags.changed", "flags"), timeout=15)
        assert isinstance(changed["data"]["version"], int)

    # ... and the user's next fetch carries it, under a new ETag.
    flag, etag = poll(
        lambda: _flag_once_changed(as_alice, name, etag, value=True),
        what=f"{name} to be on for alice",
    )
    assert flag == {"value": True, "variant": None, "reason": "STATIC"}
    assert as_alice.get("/api/v1/flags", headers={"If-None-Match": etag}).status_code == 304

    # Before login, an install sees it too.
    anonymous = expect(api.get("/api/v1/flags", params={"device_id": "e2e-install"}), 200)
    assert anonymous["flags"][name]["value"] is True

    # When the operator turns it off, the user sees it off.
    turned_off = expect(admin.patch(f"/api/ops/flags/{name}/", {"everyone": False}), 200)
    assert turned_off["everyone"] is False
    flag, _ = poll(
        lambda: _flag_once_changed(as_alice, name, etag, value=False),
        what=f"{name} to be off for alice",
    )
    assert flag == {"value": False, "variant": None, "reason": "DISABLED"}


def test_a_user_cannot_change_flags(api: Api, bob: User) -> None:
    refused = error_of(
        api.as_(bob).put("/api/ops/flags/e2e.blackbox-forbidden/", {"everyone": True}), 403
    )
    assert refused["code"] == "forbidden"


def test_flags_before_login_need_a_device_id(api: Api) -> None:
    refused = error_of(api.get("/api/v1/flags"), 422)
    assert refused["code"] == "validation_error"
    assert [d["loc"] for d in refused["details"]] == [["query", "device_id"]]


def test_a_kill_switch_reaches_the_service_that_evaluates_the_flag(
    api: Api, admin: Api, alice: User, bob: User
) -> None:
    """`messaging.edit` is evaluated by messaging's own code; in a split deployment the flag
    tables live with the edge service, so this proves the definitions reach messaging. The
    switch is off again at the end (editing is on by default)."""
    as_alice = api.as_(alice)
    opened = as_alice.post("/api/v1/conversations", {"kind": "direct", "members": [bob.id]})
    conversation = expect(opened, opened.status_code if opened.status_code == 200 else 201)
    message = as_alice.send(conversation["id"], "first draft")
    edit_path = f"/api/v1/conversations/{conversation['id']}/messages/{message['id']}"
    expect(admin.put("/api/ops/flags/messaging.edit/", {"everyone": True}), 200)
    try:
        expect(admin.post("/api/ops/flags/messaging.edit/kill/", {"killed": True}), 200)
        poll(
            lambda: as_alice.patch(edit_path, {"text": "second draft"}).status_code == 403 or None,
            what="messaging to see messaging.edit killed",
        )
        refused = error_of(as_alice.patch(edit_path, {"text": "third draft"}), 403)
        assert refused["code"] == "feature_disabled"
    finally:
        expect(admin.post("/api/ops/flags/messaging.edit/kill/", {"killed": False}), 200)

    def edit_once_allowed() -> dict[str, Any] | None:
        response = as_alice.patch(edit_path, {"text": "final"})
        return response.json() if response.status_code == 200 else None

    edited = poll(edit_once_allowed, what="messaging to see messaging.edit back on")
    assert edited["text"] == "final"
