"""One load level: N users' sockets opened (untimed), then N users looping a scenario for a
fixed time, then everything closed; returns what the level measured. The "sends" phase is a
level too: every pair's first user sends back to back, every socket open (the subscribers)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from bench.contracts.timing import load_average
from bench.load import cpu
from bench.load.drivers import CleaveDriver, Connected, Driver
from bench.load.flows import Deliveries, Session, check_deliveries
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
    # How to talk to it: Cleave's API (with the staff account that vouches for the pool's
    # addresses where only verified accounts may chat), or a peer's (bench/peers).
    driver: Driver = field(default_factory=CleaveDriver)

    @property
    def ours(self) -> list[str]:
        """The CPU figures that belong to this run (the rest of the machine is "others")."""
        shared = list(cpu.SHARED.values()) if self.uses_shared_servers else []
        return [*self.groups, *shared, cpu.LOAD_GENERATOR]


async def run_level(
    target: Target,
    accounts: list[Any],
    *,
    users: int,
    duration: float,
    think: float,
    scenario: str = "login",
) -> LevelResult:
    """`users` of the accounts loop `scenario`; with an odd count, the last one's partner
    has its socket open (it receives) but does not act. "sends": `users` accounts' sockets
    open, the first of each pair sends, with no think time."""
    recorder, deliveries, driver = Recorder(), Deliveries(), target.driver
    connected = await _connect_all(target, accounts[: users + users % 2])
    readers = [asyncio.create_task(driver.read(c, deliveries, recorder)) for c in connected]
    acting = connected[::2] if scenario == "sends" else connected[:users]
    sessions = [driver.session(c, recorder, deliveries, think) for c in acting]
    try:
        if scenario == "sends":  # signed in before the clock starts: the phase measures sends
            await _sign_in_all(sessions)
        before = cpu.snapshot(target.groups, database_marker=target.database_marker)
        started = time.perf_counter()
        await asyncio.gather(*(s.run(started + duration, scenario) for s in sessions))
        seconds = time.perf_counter() - started
        # CPU over the same window as the counts (the deliveries' check below waits after it).
        after = cpu.snapshot(target.groups, database_marker=target.database_marker)
        sent = [message for session in sessions for message in session.sent]
        await check_deliveries(sent, deliveries, recorder)
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


async def _sign_in_all(sessions: list[Session]) -> None:
    """Every session's login, untimed (its own recorder), a few at a time; fails loudly."""
    gate, setup = asyncio.Semaphore(OPEN_CONCURRENCY), Recorder()

    async def one(session: Session) -> None:
        async with gate:
            measured, session.recorder = session.recorder, setup
            try:
                await session.login()
            finally:
                session.recorder = measured

    await asyncio.gather(*(one(session) for session in sessions))
    if setup.errors:
        raise RuntimeError(f"sign-in before the sends phase failed: {dict(setup.errors)}")


async def _connect_all(target: Target, accounts: list[Any]) -> list[Connected]:
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)

    async def one(account: Any) -> Connected:
        async with gate:
            return await target.driver.connect(target.base_url, target.ws_url, account)

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
