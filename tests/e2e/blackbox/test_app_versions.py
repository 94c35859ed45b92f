"""The app-version policy from outside: an operator sets a minimum and a recommended version for
a platform; an older app is refused (426, its socket closed with 4426) except where it learns
that it must update (/meta, flags); an app that does not say its version is always served.

The policy is set for `web` and removed at the end; no other test sends `X-Client-Version`.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from client import Api, User, error_of, expect, poll
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

STORE = "https://example.com/store/cleave"
OLD = {"X-Client-Version": "web/2.9.0"}
BEHIND = {"X-Client-Version": "web/3.1.0"}
CURRENT = {"X-Client-Version": "web/3.5.0"}
CLOSE_UPGRADE_REQUIRED = 4426


@pytest.fixture
def web_policy(admin: Api) -> Iterator[None]:
    policy = {"minimum_version": "3.0.0", "recommended_version": "3.5.0", "store_url": STORE}
    expect(admin.put("/api/ops/app-versions/web/", policy), 200)
    try:
        yield
    finally:
        expect(admin.request("DELETE", "/api/ops/app-versions/web/"), 204)


def _refused(api: Api, who: User) -> httpx.Response | None:
    response = api.as_(who).get("/api/v1/me", headers=OLD)
    return response if response.status_code == 426 else None


def test_an_app_below_the_minimum_must_update_and_is_told_where(
    api: Api, bob: User, web_policy: None
) -> None:
    # Every process applies a change within a second or so.
    refused = poll(lambda: _refused(api, bob), what="the web minimum to be enforced")
    error = error_of(refused, 426)
    assert error["code"] == "upgrade_required"
    assert error["details"]["store_url"] == STORE
    assert error["details"]["minimum_version"] == "3.0.0"

    meta = expect(api.get("/api/v1/meta", headers=OLD), 200)
    assert meta["app_version"]["status"] == "update_required"
    assert meta["app_version"]["store_url"] == STORE
    expect(api.as_(bob).get("/api/v1/flags", headers=OLD), 200)


def test_an_app_behind_is_served_and_told_an_update_is_recommended(
    api: Api, bob: User, web_policy: None
) -> None:
    poll(lambda: _refused(api, bob), what="the web policy to be in force")

    expect(api.as_(bob).get("/api/v1/me", headers=BEHIND), 200)
    behind = expect(api.get("/api/v1/meta", headers=BEHIND), 200)["app_version"]["status"]
    current = expect(api.get("/api/v1/meta", headers=CURRENT), 200)["app_version"]["status"]
    assert (behind, current) == ("update_recommended", "ok")


def test_an_app_that_does_not_say_its_version_is_always_served(
    api: Api, bob: User, web_policy: None
) -> None:
    poll(lambda: _refused(api, bob), what="the web policy to be in force")

    expect(api.as_(bob).get("/api/v1/me"), 200)
    assert expect(api.get("/api/v1/meta"), 200)["app_version"]["status"] == "ok"


def test_the_socket_of_an_app_below_the_minimum_is_closed_with_4426(
    api: Api, bob: User, websocket_url: str, web_policy: None
) -> None:
    poll(lambda: _refused(api, bob), what="the web policy to be in force")
    headers = {"Authorization": f"Bearer {bob.access}", **OLD}

    frames: list[str | bytes] = []
    with connect(websocket_url, additional_headers=headers, open_timeout=10) as conn:
        closed = _read_until_closed(conn, frames)

    assert closed.rcvd is not None
    assert closed.rcvd.code == CLOSE_UPGRADE_REQUIRED
    assert any('"upgrade_required"' in str(frame) for frame in frames), frames


def _read_until_closed(conn: ClientConnection, frames: list[str | bytes]) -> ConnectionClosed:
    """Every frame until the server closes the socket; the close."""
    try:
        while True:
            frames.append(conn.recv(timeout=10))
    except ConnectionClosed as closed:
        return closed
