"""One virtual mobile user on Cleave, over its public HTTP API and WebSocket only.

Each user has its own loopback source address (127.1.x.y), as phones have their own: the
per-IP limits (identity's logins and refreshes, the gateway's requests per second) then count
per user, as in production, instead of adding every user up on 127.0.0.1. Each user keeps one
socket open (its "socket" device's session); its app (the "app" device, each login replacing
the previous session) runs the scenarios of bench/load/flows.py through the steps below.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.load.flows import Deliveries, Session
from bench.load.stats import Recorder

PASSWORD = "correct horse battery staple"  # noqa: S105 - throwaway load-test accounts
HTTP_TIMEOUT = 10.0


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
class CleaveSession(Session):
    """The steps over Cleave's API; tokens and the flags' ETag kept between them."""

    access: str = ""
    refresh_token: str = ""
    last_seq: int = 0
    flags_etag: str = ""

    @property
    def partner_id(self) -> int:
        return int(self.account.partner_id)

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access}"}

    @property
    def _path(self) -> str:
        return f"/api/v1/conversations/{self.account.conversation_id}"

    async def login(self) -> None:
        account = self.account
        body = {
            "email": account.email,
            "password": PASSWORD,
            "device": device(account.index, "app"),
        }
        tokens = await self.call("login", self.http.post("/api/v1/auth/login", json=body))
        self.access, self.refresh_token = tokens["access"], tokens["refresh"]

    async def flags(self) -> None:
        """With the ETag of the last answer, as apps do (304 when nothing changed)."""
        etag = {"If-None-Match": self.flags_etag} if self.flags_etag else {}
        response = await self.call(
            "flags", self.http.get("/api/v1/flags", headers=self._auth | etag), raw=True
        )
        self.flags_etag = response.headers.get("ETag", self.flags_etag)

    async def conversations(self) -> None:
        await self.call("conversations", self.http.get("/api/v1/conversations", headers=self._auth))

    async def messages(self) -> None:
        await self.call("messages", self.http.get(f"{self._path}/messages", headers=self._auth))

    async def send(self) -> tuple[int, float]:
        started = time.perf_counter()
        body = {"text": f"load {uuid.uuid4().hex[:8]}", "client_msg_id": uuid.uuid4().hex}
        sent = await self.call(
            "send", self.http.post(f"{self._path}/messages", json=body, headers=self._auth)
        )
        self.last_seq = int(sent["seq"])
        return int(sent["id"]), started

    async def read(self) -> None:
        body = {"seq": self.last_seq}
        await self.call("read", self.http.post(f"{self._path}/read", json=body, headers=self._auth))

    async def refresh(self) -> None:
        body = {"refresh": self.refresh_token}
        tokens = await self.call("refresh", self.http.post("/api/v1/auth/refresh", json=body))
        self.access, self.refresh_token = tokens["access"], tokens["refresh"]
