"""Coalesce per-socket work that arrives together into one query or one Redis pipeline.

When thousands of phones reconnect at once (a deploy, a network coming back), each socket asks
the same questions: is this token good, which streams is this user on, mark them online. Asked
one by one that is thousands of thread hand-offs, queries and round trips; asked together it is
a handful. `MicroBatcher` is group commit: a request waits only while an earlier batch is
running (never on a timer), so an idle server answers at once and a busy one answers in
batches of up to `max_batch`.

    verify = MicroBatcher(verify_many, max_batch=256, concurrency=2, name="auth")
    principal = await verify.submit(token)

`run(items)` returns one result per item, in order; a result that is an exception is raised to
that item's waiter only. If `run` itself raises, every waiter of the batch gets the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(
        self,
        run: Callable[[list[T]], Awaitable[list[R | BaseException]]],
        *,
        max_batch: int,
        concurrency: int,
        name: str,
    ) -> None:
        self._run = run
        self._max_batch = max_batch
        self._concurrency = concurrency
        self.name = name
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            # A new event loop (tests run several): nothing of the old one can complete here.
            self._loop, self._pending, self._in_flight, self._scheduled = loop, [], set(), False
        future: asyncio.Future[R] = loop.create_future()
        self._pending.append((item, future))
        if not self._scheduled and len(self._in_flight) < self._concurrency:
            # At the end of this loop iteration: whatever else arrived in it joins the batch.
            self._scheduled = True
            loop.call_soon(self._start)
        return await future

    def _start(self) -> None:
        self._scheduled = False
        while self._pending and len(self._in_flight) < self._concurrency:
            batch = [(i, f) for i, f in self._pending[: self._max_batch] if not f.cancelled()]
            del self._pending[: self._max_batch]
            if not batch:
                continue
            task = asyncio.get_running_loop().create_task(self._run_batch(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if self._pending and not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    async def _run_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"{self.name}: {len(results)} results for {len(batch)} items")
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as error:  # every waiter of this batch hears of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if future.done():
                continue  # its socket went away meanwhile
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)
