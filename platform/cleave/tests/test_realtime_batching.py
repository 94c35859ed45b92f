"""Admission in batches (issue 16, finding 13): sockets connecting together share the work."""

from __future__ import annotations

import asyncio

import pytest

from cleave.realtime.batching import MicroBatcher
from cleave.realtime.hub import Hub


class Recorder:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay

    async def run(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(items)
        await asyncio.sleep(self.delay)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


def test_requests_made_together_run_as_one_batch_and_each_gets_its_own_answer() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(recorder.run, max_batch=100, concurrency=1, name="t")

    async def scenario() -> list[int | BaseException]:
        return await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)

    results = asyncio.run(scenario())
    assert recorder.batches == [[0, 1, 2, 3, 4, 5]]
    assert [r if isinstance(r, int) else str(r) for r in results] == [
        0, "odd 1", 20, "odd 3", 40, "odd 5",
    ]  # fmt: skip


def test_batches_are_bounded_and_later_requests_wait_only_for_a_free_slot() -> None:
    recorder = Recorder(delay=0.01)
    batcher = MicroBatcher(recorder.run, max_batch=4, concurrency=2, name="t")

    async def scenario() -> None:
        await asyncio.gather(*(batcher.submit(2 * i) for i in range(10)))

    asyncio.run(scenario())
    assert [len(batch) for batch in recorder.batches] == [4, 4, 2]
    assert sorted(i for batch in recorder.batches for i in batch) == [2 * i for i in range(10)]


def test_a_failing_batch_fails_each_of_its_waiters_and_the_next_batch_still_runs() -> None:
    calls = 0

    async def run(items: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("redis went away")
        return list(items)

    batcher = MicroBatcher(run, max_batch=10, concurrency=1, name="t")

    async def scenario() -> tuple[list[BaseException | int], int]:
        first = await asyncio.gather(*(batcher.submit(i) for i in range(3)), return_exceptions=True)
        return first, await batcher.submit(7)

    first, later = asyncio.run(scenario())
    assert [type(r) for r in first] == [ConnectionError] * 3
    assert later == 7


def test_a_batcher_used_from_a_new_event_loop_starts_afresh() -> None:
    recorder = Recorder(delay=10)
    batcher = MicroBatcher(recorder.run, max_batch=10, concurrency=1, name="t")

    async def abandon() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(batcher.submit(0), timeout=0.05)

    asyncio.run(abandon())  # its batch never finished in that loop
    recorder.delay = 0
    assert asyncio.run(batcher.submit(4)) == 40


class Sock:
    session_id = "s"

    async def deliver(self, stream: str, seq: int, frame: str) -> None: ...

    async def close_revoked(self) -> None: ...


def test_a_socket_leaves_all_its_streams_at_once_and_others_stay() -> None:
    hub, one, other = Hub(), Sock(), Sock()

    async def scenario() -> None:
        for stream in ("user:1", "conv:1", "conv:2"):
            hub.attach(stream, one)
        hub.attach("conv:1", other)
        hub.detach_from("conv:2", one)
        assert hub.streams_of(one) == ["conv:1", "user:1"]
        hub.detach(one)
        await hub.stop()

    asyncio.run(scenario())
    assert dict(hub.sockets) == {"conv:1": {other}}
    assert (hub.streams_of(one), hub.local_count()) == ([], 1)
