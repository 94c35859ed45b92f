"""The scenarios, written once for every target: a target's session class (Cleave's in
bench/load/scenario.py, Parse Server's in bench/peers/parse/client.py) implements the steps,
this base class strings them together, times them and paces them with the think time.

- "login": the original load scenario — log in every iteration (a password hash each time),
  list conversations, open one, send (and wait for it on the partner's socket), flags, refresh.
- "chat": what a chat app does — sign in once per session, then loop: flags, list
  conversations, open one (messages newest first), send (and wait for it on the partner's
  socket), mark read; every REFRESH_EVERY iterations, refresh the session.
- "sends": signed in beforehand (untimed), send back to back with no think time (no waiting for the
  delivery: the level waits for every message on the partner's socket at its end).
"""

from __future__ import annotations

import asyncio
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Hashable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load.stats import Recorder

SCENARIOS = ("login", "chat")  # the levelled ones; "sends" has its own phase
REFRESH_EVERY = 5  # chat: one session refresh in this many iterations
DELIVERY_TIMEOUT = 5.0  # a message not on the partner's socket by then is an error


class StepFailed(Exception):
    """A step failed (already recorded); the rest of the iteration is skipped."""


@dataclass
class Deliveries:
    """When each message reached which socket, awaited by the message's sender (the socket
    may have it before the sender has read its own response)."""

    _arrived: dict[tuple[Hashable, Hashable], float] = field(default_factory=dict)
    _waiting: dict[tuple[Hashable, Hashable], asyncio.Future[float]] = field(default_factory=dict)

    def arrived(self, receiver_id: Hashable, message_id: Hashable) -> None:
        key, at = (receiver_id, message_id), time.perf_counter()
        waiter = self._waiting.pop(key, None)
        if waiter is None:
            self._arrived[key] = at
        elif not waiter.done():
            waiter.set_result(at)

    async def wait(self, receiver_id: Hashable, message_id: Hashable, timeout: float) -> float:
        """The arrival time; raises TimeoutError after `timeout` seconds."""
        key = (receiver_id, message_id)
        if key in self._arrived:
            return self._arrived.pop(key)
        waiter = self._waiting[key] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(waiter, max(timeout, 0.0))
        finally:
            self._waiting.pop(key, None)


@dataclass
class Sent:
    """A message sent in the "sends" phase, checked on the partner's socket at the end."""

    receiver_id: Hashable
    message_id: Hashable
    started: float


@dataclass
class Session(ABC):
    """One virtual user's app on one target: its HTTP client and what it remembers."""

    account: Any
    http: httpx.AsyncClient
    recorder: Recorder
    deliveries: Deliveries
    think: float
    sent: list[Sent] = field(default_factory=list)
    _iteration: int = 0

    # The steps, each one request timed by `call` under the step's name (bench/load/stats).
    @abstractmethod
    async def login(self) -> None: ...

    @abstractmethod
    async def flags(self) -> None: ...

    @abstractmethod
    async def conversations(self) -> None: ...

    @abstractmethod
    async def messages(self) -> None: ...

    @abstractmethod
    async def send(self) -> tuple[Hashable, float]:
        """Send one message to the partner; its id and when the request started."""

    @abstractmethod
    async def read(self) -> None: ...

    @abstractmethod
    async def refresh(self) -> None: ...

    @property
    @abstractmethod
    def partner_id(self) -> Hashable: ...

    async def run(self, deadline: float, scenario: str) -> None:
        """Loop `scenario` until `deadline` (the iteration under way is finished)."""
        if scenario == "sends":
            await self._sends(deadline)
            return
        await asyncio.sleep(random.uniform(0, 2 * self.think))
        signed_in = False
        while time.perf_counter() < deadline:
            try:
                if scenario == "login":
                    await self._login_iteration()
                else:
                    if not signed_in:  # once per session (again only after a failure)
                        await self.login()
                        signed_in = True
                        await self.pause()
                    await self._chat_iteration()
                self.recorder.iterations += 1
            except StepFailed:
                signed_in = False
            await self.pause(2)

    async def _login_iteration(self) -> None:
        for step in (self.login, self.conversations, self.messages, self.send_and_receive):
            await step()
            await self.pause()
        await self.flags()
        await self.pause()
        await self.refresh()

    async def _chat_iteration(self) -> None:
        for step in (self.flags, self.conversations, self.messages, self.send_and_receive):
            await step()
            await self.pause()
        await self.read()
        self._iteration += 1
        if self._iteration % REFRESH_EVERY == 0:
            await self.pause()
            await self.refresh()

    async def _sends(self, deadline: float) -> None:
        """Signed in already (bench/load/levels.py, before the clock starts)."""
        while time.perf_counter() < deadline:
            try:
                message_id, started = await self.send()
            except StepFailed:
                await asyncio.sleep(0.1)  # recorded; no busy loop on a refusing server
                continue
            self.sent.append(Sent(self.partner_id, message_id, started))
            self.recorder.iterations += 1

    async def send_and_receive(self) -> None:
        """Send a message, then wait for it on the partner's socket."""
        message_id, started = await self.send()
        try:
            remaining = DELIVERY_TIMEOUT - (time.perf_counter() - started)
            arrived = await self.deliveries.wait(self.partner_id, message_id, remaining)
        except TimeoutError:
            self.recorder.error(
                "delivery", f"not on the socket within {DELIVERY_TIMEOUT:.0f} s", http=False
            )
            raise StepFailed from None
        self.recorder.ok("delivery", arrived - started, http=False)

    async def pause(self, factor: float = 1) -> None:
        """A user's think time: uniform around `think` × factor (±50 %)."""
        if self.think:
            await asyncio.sleep(self.think * factor * random.uniform(0.5, 1.5))

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


async def check_deliveries(sent: list[Sent], deliveries: Deliveries, recorder: Recorder) -> None:
    """After the "sends" phase: every message on its partner's socket within the timeout."""

    async def one(message: Sent) -> None:
        remaining = DELIVERY_TIMEOUT - (time.perf_counter() - message.started)
        try:
            arrived = await deliveries.wait(message.receiver_id, message.message_id, remaining)
        except TimeoutError:
            recorder.error(
                "delivery", f"not on the socket within {DELIVERY_TIMEOUT:.0f} s", http=False
            )
            return
        recorder.ok("delivery", arrived - message.started, http=False)

    await asyncio.gather(*(one(message) for message in sent))


def _code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:80]
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):  # Cleave's envelope
        return str(error.get("code"))
    return str(body.get("code", error))[:80] if isinstance(body, dict) else str(body)[:80]
