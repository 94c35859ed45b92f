"""The load generator's side of Parse Server: its REST API and the LiveQuery socket protocol.

A user's app signs in (`POST /parse/login`, a new session), reads the config (`GET
/parse/config`: Parse's remote config, the counterpart of Cleave's flags), queries its
conversations (members contain me) and a conversation's messages (newest first), creates a
Message readable by the conversation's members only (its ACL), updates its read mark, and
now and then checks its session (`GET /parse/users/me`: Parse's sessions do not rotate).
Its socket speaks LiveQuery: `connect` with the session token, `subscribe` to the Messages of
its conversation, then `create` events — each checked against the object's ACL by the server.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.load.drivers import Connected
from bench.load.flows import Deliveries, Session
from bench.load.scenario import HTTP_TIMEOUT, PASSWORD, http_client
from bench.load.stats import Recorder

PAGE = 50  # messages per page, as Cleave's default page


@dataclass
class ParseAccount:
    """A pre-created Parse user and what the setup made for it."""

    index: int
    user_id: str  # objectId
    username: str
    address: str
    socket_session: str  # the signup's session token, used by the socket
    partner_id: str = ""
    conversation_id: str = ""
    read_mark_id: str = ""


def acl_of(*user_ids: str, write: bool = False) -> dict[str, dict[str, bool]]:
    rights = {"read": True, "write": True} if write else {"read": True}
    return {user_id: dict(rights) for user_id in user_ids}


@dataclass(frozen=True)
class ParseDriver:
    """Parse Server's REST API and LiveQuery; the master key serves the setup only."""

    app_id: str
    master_key: str

    def headers(self, session: str | None = None) -> dict[str, str]:
        headers = {"X-Parse-Application-Id": self.app_id}
        return headers | ({"X-Parse-Session-Token": session} if session else {})

    async def create_pool(self, base_url: str, size: int) -> list[Any]:
        from bench.peers.parse.setup import create_pool

        return list(await create_pool(self, base_url, size))

    async def connect(self, base_url: str, ws_url: str, account: Any) -> Connected:
        http = http_client(base_url, account.address)
        http.headers.update(self.headers())
        try:
            return Connected(account, http, await self._subscribe(ws_url, account))
        except BaseException:
            await http.aclose()
            raise

    async def _subscribe(self, ws_url: str, account: ParseAccount) -> ClientConnection:
        """Connect with the socket's session token and subscribe to the conversation's
        Messages; returns once the server has confirmed both."""
        conn = await connect(
            ws_url, local_addr=(account.address, 0), open_timeout=HTTP_TIMEOUT, compression=None
        )
        try:
            session = account.socket_session
            hello = {"op": "connect", "applicationId": self.app_id, "sessionToken": session}
            await conn.send(json.dumps(hello))
            await asyncio.wait_for(_until(conn, "connected"), HTTP_TIMEOUT)
            query = {"className": "Message", "where": {"conversation": account.conversation_id}}
            subscribe = {"op": "subscribe", "requestId": 1, "query": query, "sessionToken": session}
            await conn.send(json.dumps(subscribe))
            await asyncio.wait_for(_until(conn, "subscribed"), HTTP_TIMEOUT)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def read(self, connected: Connected, deliveries: Deliveries, recorder: Recorder) -> None:
        """Note every Message created by someone else; a closed socket is an error."""
        me = connected.account.user_id
        try:
            async for raw in connected.socket:
                event = json.loads(raw)
                if event.get("op") == "create":
                    message = event["object"]
                    if message.get("sender") != me:
                        deliveries.arrived(me, message["objectId"])
                elif event.get("op") == "error":
                    recorder.error("socket", f"LiveQuery error {event.get('code')}", http=False)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd is not None else "none"
            recorder.error("socket", f"closed by the server ({code})", http=False)

    def session(
        self, connected: Connected, recorder: Recorder, deliveries: Deliveries, think: float
    ) -> Session:
        return ParseSession(connected.account, connected.http, recorder, deliveries, think)


async def _until(conn: ClientConnection, op: str) -> None:
    while True:
        event = json.loads(await conn.recv())
        if event.get("op") == op:
            return
        if event.get("op") == "error":
            raise RuntimeError(f"LiveQuery refused: {event}")


@dataclass
class ParseSession(Session):
    """The steps over Parse's REST API, with the session token of the last login."""

    token: str = ""
    last_message: str = ""

    @property
    def partner_id(self) -> str:
        return str(self.account.partner_id)

    @property
    def _auth(self) -> dict[str, str]:
        return {"X-Parse-Session-Token": self.token}

    async def login(self) -> None:
        body = {"username": self.account.username, "password": PASSWORD}
        user = await self.call("login", self.http.post("/parse/login", json=body))
        self.token = user["sessionToken"]

    async def flags(self) -> None:
        await self.call("flags", self.http.get("/parse/config", headers=self._auth))

    async def conversations(self) -> None:
        where = json.dumps({"members": {"$all": [self.account.user_id]}})
        params = {"where": where, "order": "-updatedAt", "limit": "50"}
        request = self.http.get("/parse/classes/Conversation", params=params, headers=self._auth)
        await self.call("conversations", request)

    async def messages(self) -> None:
        where = json.dumps({"conversation": self.account.conversation_id})
        params = {"where": where, "order": "-createdAt", "limit": str(PAGE)}
        request = self.http.get("/parse/classes/Message", params=params, headers=self._auth)
        await self.call("messages", request)

    async def send(self) -> tuple[str, float]:
        started = time.perf_counter()
        account = self.account
        body = {
            "conversation": account.conversation_id,
            "sender": account.user_id,
            "text": f"load {uuid.uuid4().hex[:8]}",
            "clientMsgId": uuid.uuid4().hex,
            "ACL": acl_of(account.user_id, account.partner_id),
        }
        request = self.http.post("/parse/classes/Message", json=body, headers=self._auth)
        created = await self.call("send", request)
        self.last_message = created["objectId"]
        return created["objectId"], started

    async def read(self) -> None:
        path = f"/parse/classes/ReadMark/{self.account.read_mark_id}"
        body = {"lastMessage": self.last_message, "readAt": {"__type": "Date", "iso": _now()}}
        await self.call("read", self.http.put(path, json=body, headers=self._auth))

    async def refresh(self) -> None:
        await self.call("refresh", self.http.get("/parse/users/me", headers=self._auth))


def _now() -> str:
    import datetime as dt

    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def raise_for(response: httpx.Response) -> dict[str, Any]:
    """A setup request's JSON, or a clear failure."""
    if response.status_code >= 300:
        raise RuntimeError(
            f"parse setup: {response.request.method} {response.request.url} -> "
            f"{response.status_code}: {response.text[:500]}"
        )
    return dict(response.json())
