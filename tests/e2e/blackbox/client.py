"""A tiny HTTP client for the black-box suite: Cleave's public API, nothing of its code."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

PASSWORD = "correct horse battery staple"
HTTP_TIMEOUT = 10.0


def unique_email(label: str) -> str:
    """A fresh address per call, so runs against a long-lived deployment never collide."""
    return f"e2e-{label}-{uuid.uuid4().hex[:12]}@example.com"


def device(label: str, *, push_token: str | None = None) -> dict[str, Any]:
    """A device body; each login needs its own device_id (a second login on one device
    replaces that device's session)."""
    body: dict[str, Any] = {
        "device_id": f"e2e-{label}-{uuid.uuid4().hex[:8]}",
        "platform": "android",
        "app_version": "2.4.0",
    }
    if push_token is not None:
        body["push_token"] = push_token
    return body


@dataclass(frozen=True)
class User:
    """A signed-in account: who it is and the tokens of one of its sessions."""

    id: int
    email: str
    password: str
    access: str
    refresh: str
    session_id: str


class Api:
    """Cleave's HTTP API at `base_url`, optionally as one user (bearer token)."""

    def __init__(self, http: httpx.Client, token: str | None = None) -> None:
        self.http = http
        self.token = token

    @classmethod
    def connect(cls, base_url: str) -> Api:
        return cls(httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT))

    def as_(self, who: User | str | None) -> Api:
        """The same client with another user's access token (or none)."""
        token = who.access if isinstance(who, User) else who
        return Api(self.http, token)

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        if content is not None:
            sent.setdefault("Content-Type", "application/json")
        return self.http.request(
            method, path, json=json, content=content, params=params, headers=sent
        )

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, json=json, **kwargs)

    # -- the few flows every test needs ---------------------------------------------------------
    def register(self, label: str, *, vouched_by: Api | None = None) -> User:
        """A new account, signed in on a new device (registration with a device returns tokens).

        `vouched_by` (a staff account's Api) marks its address verified through the ops API, as
        a deployment requiring verified addresses needs before the account may chat: this suite
        cannot read the mail with the link.
        """
        email = unique_email(label)
        body = {
            "email": email,
            "password": PASSWORD,
            "display_name": label,
            "device": device(label),
        }
        created = expect(self.post("/api/v1/auth/register", body), 201)
        if vouched_by is not None and not created["user"]["email_verified"]:
            vouched_by.vouch_for(int(created["user"]["id"]))
        return _user(created["tokens"], password=PASSWORD)

    def vouch_for(self, user_id: int) -> dict[str, Any]:
        """As staff: mark the account's address verified (the ops API)."""
        return dict(expect(self.post(f"/api/ops/users/{user_id}/verify-email/"), 200))

    def login(self, email: str, password: str, *, label: str = "login") -> User:
        body = {"email": email, "password": password, "device": device(label)}
        return _user(expect(self.post("/api/v1/auth/login", body), 200), password=password)

    def send(self, conversation_id: int, text: str) -> dict[str, Any]:
        """Send a message over REST; returns the stored message (with its seq)."""
        body = {"text": text, "client_msg_id": uuid.uuid4().hex}
        path = f"/api/v1/conversations/{conversation_id}/messages"
        return expect(self.post(path, body), 201)


def _user(tokens: dict[str, Any], *, password: str) -> User:
    return User(
        id=tokens["user"]["id"],
        email=tokens["user"]["email"],
        password=password,
        access=tokens["access"],
        refresh=tokens["refresh"],
        session_id=tokens["session_id"],
    )


def expect(response: httpx.Response, status: int) -> Any:
    """The JSON body of a response that must have `status` (the body is in the failure)."""
    assert response.status_code == status, (
        f"{response.request.method} {response.request.url} -> {response.status_code}, "
        f"expected {status}: {response.text[:1000]}"
    )
    return response.json() if response.content else None


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """The `error` object of a response that must be Cleave's error envelope with `status`."""
    body = expect(response, status)
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details", "request_id"}, body
    assert body["error"]["request_id"] == response.headers["X-Request-ID"], body
    assert isinstance(body["error"]["code"], str), body
    assert isinstance(body["error"]["message"], str), body
    assert response.headers.get("X-Request-ID"), dict(response.headers)
    return dict(body["error"])


def poll(check: Callable[[], T | None], *, what: str, timeout: float = 15.0) -> T:
    """Call `check` until it returns something other than None (events cross contexts
    asynchronously); fail after `timeout` seconds, naming what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"after {timeout}s still waiting for {what}")
        time.sleep(0.2)
