"""Identity from outside: register, log in, who am I, refresh-token rotation and theft."""

from __future__ import annotations

import httpx
import ws
from client import PASSWORD, Api, User, device, error_of, expect, poll, unique_email


def test_register_then_log_in_and_read_me(api: Api, admin: Api) -> None:
    email = unique_email("reg")
    body = {"email": email, "password": PASSWORD, "display_name": "Reg"}

    created = expect(api.post("/api/v1/auth/register", body), 201)
    assert created["tokens"] is None  # no device given: an account, no session
    assert (created["user"]["email"], created["user"]["roles"]) == (email, ["user"])

    taken = error_of(api.post("/api/v1/auth/register", {**body, "display_name": "Again"}), 409)
    assert taken["code"] == "email_taken"

    user = api.login(email, PASSWORD)
    assert user.id == created["user"]["id"]
    me = expect(api.as_(user).get("/api/v1/me"), 200)
    assert me == {
        "id": user.id,
        "email": email,
        "display_name": "Reg",
        "locale": "en",
        "timezone": "UTC",
        "roles": ["user"],
        "email_verified": False,  # the link went to a mailbox this suite cannot read
    }

    # Staff vouch for the address through the ops API (audited); the account sees it at once.
    vouched = admin.vouch_for(user.id)
    assert vouched == {"id": user.id, "email": email, "email_verified": True}
    assert expect(api.as_(user).get("/api/v1/me"), 200)["email_verified"] is True
    link = error_of(api.post("/api/v1/auth/verify-email", {"token": "not-a-link"}), 400)
    assert link["code"] == "verification_invalid"


def test_a_weak_password_is_refused_with_its_code(api: Api) -> None:
    body = {"email": unique_email("weak"), "password": "short", "display_name": "Weak"}

    refused = error_of(api.post("/api/v1/auth/register", body), 422)

    assert refused["code"] == "weak_password"
    assert refused["details"]["problems"], refused


def test_a_wrong_password_is_refused_and_gives_no_session(api: Api, bob: User) -> None:
    body = {"email": bob.email, "password": "not the password at all", "device": device("bad")}

    refused = error_of(api.post("/api/v1/auth/login", body), 401)

    assert refused["code"] == "invalid_credentials"


def test_me_needs_a_valid_token(api: Api) -> None:
    assert error_of(api.get("/api/v1/me"), 401)["code"] == "token_missing"
    assert error_of(api.as_("not-a-token").get("/api/v1/me"), 401)["code"] == "token_invalid"


def test_a_refresh_token_rotates_and_its_reuse_signs_the_session_out(
    api: Api, alice: User, websocket_url: str
) -> None:
    # Given a session of its own (reuse must not sign alice's main session out).
    first = api.login(alice.email, alice.password, label="refresh")
    rotated = expect(api.post("/api/v1/auth/refresh", {"refresh": first.refresh}), 200)
    assert rotated["session_id"] == first.session_id
    assert rotated["refresh"] != first.refresh
    # (The access token may come back identical: same claims within the same second.)
    assert expect(api.as_(rotated["access"]).get("/api/v1/me"), 200)["id"] == alice.id

    with ws.socket(websocket_url, rotated["access"]) as conn:
        # When the spent refresh token comes back (stolen?).
        reused = error_of(api.post("/api/v1/auth/refresh", {"refresh": first.refresh}), 401)

        # Then the whole session is signed out: its socket, its tokens; not her other session.
        assert reused["code"] == "refresh_reused"
        assert ws.close_code(conn) == 4401
    refusal = poll(
        lambda: _refusal(api.as_(rotated["access"]).get("/api/v1/me")),
        what="the revoked session's access token to be refused",
    )
    assert refusal == "session_revoked"
    again = error_of(api.post("/api/v1/auth/refresh", {"refresh": rotated["refresh"]}), 401)
    assert again["code"] == "session_revoked"
    assert expect(api.as_(alice).get("/api/v1/me"), 200)["id"] == alice.id


def test_an_unknown_refresh_token_is_invalid(api: Api) -> None:
    refused = error_of(api.post("/api/v1/auth/refresh", {"refresh": "never-issued"}), 401)
    assert refused["code"] == "refresh_invalid"


def _refusal(response: httpx.Response) -> str | None:
    """The error code of a 401, or None while the request still succeeds."""
    return str(response.json()["error"]["code"]) if response.status_code == 401 else None
