"""One virtual mobile user, over Cleave's public HTTP API and WebSocket only.

Each user has its own loopback source address (127.1.x.y), as phones have their own: the
per-IP limits (identity's logins and refreshes, the gateway's requests per second) then count
per user, as in production, instead of adding every user up on 127.0.0.1. Each user keeps one
socket open (its "socket" device's session) and loops: log in (its "app" device, which replaces
the previous session), list conversations, open the one with its partner (messages), send a
message, wait until the partner's socket has it, fetch flags (with the ETag, as apps do),
refresh the token — with a think time between steps.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.load.stats import Recorder

PASSWORD = "correct horse battery staple"  # noqa: S105 - throwaway load-test accounts
HTTP_TIMEOUT = 10.0
DELIVERY_TIMEOUT = 5.0  # a message not on the partner's socket by then is an error


class StepFailed(Exception):
    """A step failed (already recorded); the rest of the iteration is skipped."""


@dataclass
class Account:
    """A pre-created user: who, from which address, talking to whom, and its socket session."""

    index: int
    user_id: int
    email: str
    address: str
    socket_refresh: str  # refresh token of the "socket" device's session
    partner_id: int = 0
    conversation_id: int = 0


def address_of(index: int) -> str:
    """The loopback source address of user `index` (all of 127/8 reaches the local host)."""
    return f"127.1.{index // 250}.{index % 250 + 1}"


def device(account_index: int, kind: str) -> dict[str, str]:
    return {
        "device_id": f"load-{account_index}-{kind}",
        "platform": "android",
        "app_version": "2.4.0",
    }


def http_client(base_url: str, address: str) -> httpx.AsyncClient:
    """A keep-alive client whose connections leave from `address`."""
    transport = httpx.AsyncHTTPTransport(local_address=address)
    return httpx.AsyncClient(base_url=base_url, transport=transport, timeout=HTTP_TIMEOUT)


@dataclass
class Deliveries:
    """When each `message.sent` frame reached which socket, awaited by the message's sender
    (the frame may arrive before the sender has read its own POST response)."""

    _arrived: dict[tuple[int, int], float] = field(default_factory=dict)
    _waiting: dict[tuple[int, int], asyncio.Future[float]] = field(default_factory=dict)

    def arrived(self, receiver_id: int, message_id: int) -> None:
        key, at = (receiver_id, message_id), time.perf_counter()
        waiter = self._waiting.pop(key, None)
        if waiter is None:
            self._arrived[key] = at
        elif not waiter.done():
            waiter.set_result(at)

    async def wait(self, receiver_id: int, message_id: int, timeout: float) -> float:
        """The arrival time; raises TimeoutError after `timeout` seconds."""
        key = (receiver_id, message_id)
        if key in self._arrived:
            return self._arrived.pop(key)
        waiter = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiting.pop(key, None)


async def open_socket(ws_url: str, account: Account, http: httpx.AsyncClient) -> ClientConnection:
    """Refresh the socket device's session and open its signed-in socket (waits for `ready`)."""
    response = await http.post("/api/v1/auth/refresh", json={"refresh": account.socket_refresh})
    response.raise_for_status()
    tokens = response.json()
    account.socket_refresh = tokens["refresh"]
    conn = await connect(
        ws_url,
        additional_headers={"Authorization": f"Bearer {tokens['access']}"},
        local_addr=(account.address, 0),
        open_timeout=HTTP_TIMEOUT,
        compression=None,  # the server runs without permessage-deflate
    )
    try:
        await asyncio.wait_for(_until_ready(conn), HTTP_TIMEOUT)
    except BaseException:
        await conn.close()
        raise
    return conn


async def _until_ready(conn: ClientConnection) -> None:
    """Skip what comes before `ready` (a partner's presence may); fail on an error frame."""
    while True:
        frame = json.loads(await conn.recv())
        if frame.get("type") == "ready":
            return
        if frame.get("type") == "error":
            raise RuntimeError(f"socket refused: {frame}")


async def read_socket(
    conn: ClientConnection, account: Account, deliveries: Deliveries, recorder: Recorder
) -> None:
    """Note every message from someone else; a socket the server closes is an error."""
    try:
        async for raw in conn:
            frame = json.loads(raw)
            if frame.get("type") == "event" and frame.get("event") == "message.sent":
                data = frame["data"]
                if data["sender_id"] != account.user_id:
                    deliveries.arrived(account.user_id, int(data["id"]))
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else "none"
        recorder.error("socket", f"closed by the server ({code})", http=False)


@dataclass
class VirtualUser:
    """One account's app: its HTTP client and what it remembers between iterations."""

    account: Account
    http: httpx.AsyncClient
    recorder: Recorder
    deliveries: Deliveries
    think: float
    flags_etag: str = ""

    async def run(self, deadline: float) -> None:
        """Loop the scenario until `deadline` (the iteration under way is finished)."""
        await asyncio.sleep(random.uniform(0, 2 * self.think))
        while time.perf_counter() < deadline:
            try:
                await self.iteration()
                self.recorder.iterations += 1
            except StepFailed:
                pass
            await self.pause(2)

    async def pause(self, factor: float = 1) -> None:
        """A user's think time: uniform around `think` × factor (±50 %)."""
        await asyncio.sleep(self.think * factor * random.uniform(0.5, 1.5))

    async def iteration(self) -> None:
        account = self.account
        body = {
            "email": account.email,
            "password": PASSWORD,
            "device": device(account.index, "app"),
        }
        tokens = await self.call("login", self.http.post("/api/v1/auth/login", json=body))
        auth = {"Authorization": f"Bearer {tokens['access']}"}
        await self.pause()
        await self.call("conversations", self.http.get("/api/v1/conversations", headers=auth))
        await self.pause()
        path = f"/api/v1/conversations/{account.conversation_id}/messages"
        await self.call("messages", self.http.get(path, headers=auth))
        await self.pause()
        await self.send(path, auth)
        await self.pause()
        await self.fetch_flags(auth)
        await self.pause()
        refresh = {"refresh": tokens["refresh"]}
        await self.call("refresh", self.http.post("/api/v1/auth/refresh", json=refresh))

    async def send(self, path: str, auth: dict[str, str]) -> None:
        """Send a message, then wait for it on the partner's socket."""
        started = time.perf_counter()
        body = {"text": f"load {uuid.uuid4().hex[:8]}", "client_msg_id": uuid.uuid4().hex}
        sent = await self.call("send", self.http.post(path, json=body, headers=auth))
        try:
            remaining = DELIVERY_TIMEOUT - (time.perf_counter() - started)
            arrived = await self.deliveries.wait(self.account.partner_id, sent["id"], remaining)
        except TimeoutError:
            self.recorder.error(
                "delivery", f"not on the socket within {DELIVERY_TIMEOUT:.0f} s", http=False
            )
            raise StepFailed from None
        self.recorder.ok("delivery", arrived - started, http=False)

    async def fetch_flags(self, auth: dict[str, str]) -> None:
        headers = {**auth, "If-None-Match": self.flags_etag} if self.flags_etag else auth
        response = await self.call(
            "flags", self.http.get("/api/v1/flags", headers=headers), raw=True
        )
        self.flags_etag = response.headers.get("ETag", self.flags_etag)

    async def call(
        self, step: str, request: Awaitable[httpx.Response], *, raw: bool = False
    ) -> Any:
        """Time one request; anything but 2xx/3xx (or no answer) is recorded and fails the step."""
        started = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError as exc:
            self.recorder.error(step, type(exc).__name__)
            raise StepFailed from exc
        elapsed = time.perf_counter() - started
        if not 200 <= response.status_code < 400:
            self.recorder.error(step, f"HTTP {response.status_code} {_code(response)}")
            raise StepFailed
        self.recorder.ok(step, elapsed)
        return response if raw else response.json()


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return response.text[:80]
