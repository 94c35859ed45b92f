"""One load level: N users' sockets opened (untimed), then N users looping the scenario for a
fixed time, then everything closed; returns what the level measured."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from websockets.asyncio.client import ClientConnection

from bench.contracts.timing import load_average
from bench.load import cpu
from bench.load.scenario import (
    Account,
    Deliveries,
    VirtualUser,
    http_client,
    open_socket,
    read_socket,
)
from bench.load.stats import LevelResult, Recorder

OPEN_CONCURRENCY = 10


@dataclass(frozen=True)
class Target:
    """Where the users go, and the process groups whose CPU is worth reporting."""

    name: str
    base_url: str
    ws_url: str
    groups: Mapping[str, int]
    uses_shared_servers: bool = False  # PostgreSQL and Redis are part of this target
    database_marker: str | None = None  # in the names of its PostgreSQL databases
    # (email, password) of a staff account that vouches for the pool's addresses through the
    # ops API: a real-mode target lets only verified accounts chat (CLEAVE_REQUIRE_EMAIL_…).
    staff: tuple[str, str] | None = None

    @property
    def ours(self) -> list[str]:
        """The CPU figures that belong to this run (the rest of the machine is "others")."""
        shared = list(cpu.SHARED.values()) if self.uses_shared_servers else []
        return [*self.groups, *shared, cpu.LOAD_GENERATOR]


@dataclass
class Connected:
    """One user's open HTTP client and socket during a level."""

    account: Account
    http: httpx.AsyncClient
    socket: ClientConnection


async def run_level(
    target: Target, accounts: list[Account], *, users: int, duration: float, think: float
) -> LevelResult:
    """`users` of the accounts loop the scenario; with an odd count, the last one's partner
    has its socket open (it receives) but does not act."""
    recorder, deliveries = Recorder(), Deliveries()
    connected = await _connect_all(target, accounts[: users + users % 2])
    readers = [
        asyncio.create_task(read_socket(c.socket, c.account, deliveries, recorder))
        for c in connected
    ]
    before = cpu.snapshot(target.groups, database_marker=target.database_marker)
    started = time.perf_counter()
    try:
        virtual = [
            VirtualUser(c.account, c.http, recorder, deliveries, think) for c in connected[:users]
        ]
        await asyncio.gather(*(v.run(started + duration) for v in virtual))
        seconds = time.perf_counter() - started
        after = cpu.snapshot(target.groups, database_marker=target.database_marker)
        used = cpu.percent_between(before, after, ours=target.ours)
        if not target.uses_shared_servers:  # then all their CPU serves other work
            for shared in cpu.SHARED.values():
                used.pop(shared, None)
    finally:
        await _close_all(connected, readers)
    return LevelResult.build(
        recorder,
        users=users,
        seconds=seconds,
        cpu_percent=used,
        load_average=load_average(),
    )


async def _connect_all(target: Target, accounts: list[Account]) -> list[Connected]:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(account: Account) -> Connected:
        async with gate:
            http = http_client(target.base_url, account.address)
            try:
                return Connected(account, http, await open_socket(target.ws_url, account, http))
            except BaseException:
                await http.aclose()
                raise

    return list(await asyncio.gather(*(one(a) for a in accounts)))


async def _close_all(users: list[Connected], readers: list[asyncio.Task[None]]) -> None:
    """Close the sockets first (their readers then end without recording an error)."""
    for reader in readers:
        reader.cancel()
    for user in users:
        with contextlib.suppress(Exception):
            await user.socket.close()
        await user.http.aclose()
    await asyncio.gather(*readers, return_exceptions=True)
