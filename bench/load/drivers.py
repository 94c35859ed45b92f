"""How the load generator talks to one kind of target: create its users, open a user's HTTP
client and socket, read the socket, make the user's session (bench/load/flows.py). Cleave's
driver is here; a peer's lives with the peer (Parse Server: bench/peers/parse/client.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from websockets.asyncio.client import ClientConnection

from bench.load.flows import Deliveries, Session
from bench.load.pool import create_pool
from bench.load.scenario import CleaveSession, http_client, open_socket, read_socket
from bench.load.stats import Recorder


@dataclass
class Connected:
    """One user's open HTTP client and socket during a level."""

    account: Any
    http: httpx.AsyncClient
    socket: ClientConnection


class Driver(Protocol):
    async def create_pool(self, base_url: str, size: int) -> list[Any]: ...

    async def connect(self, base_url: str, ws_url: str, account: Any) -> Connected: ...

    async def read(
        self, connected: Connected, deliveries: Deliveries, recorder: Recorder
    ) -> None: ...

    def session(
        self, connected: Connected, recorder: Recorder, deliveries: Deliveries, think: float
    ) -> Session: ...


@dataclass(frozen=True)
class CleaveDriver:
    """Cleave's public API; `staff` (email, password) vouches for the pool's addresses where
    the target lets only verified accounts chat (real mode)."""

    staff: tuple[str, str] | None = None

    async def create_pool(self, base_url: str, size: int) -> list[Any]:
        return list(await create_pool(base_url, size, staff=self.staff))

    async def connect(self, base_url: str, ws_url: str, account: Any) -> Connected:
        http = http_client(base_url, account.address)
        try:
            return Connected(account, http, await open_socket(ws_url, account, http))
        except BaseException:
            await http.aclose()
            raise

    async def read(self, connected: Connected, deliveries: Deliveries, recorder: Recorder) -> None:
        await read_socket(connected.socket, connected.account, deliveries, recorder)

    def session(
        self, connected: Connected, recorder: Recorder, deliveries: Deliveries, think: float
    ) -> Session:
        return CleaveSession(connected.account, connected.http, recorder, deliveries, think)
