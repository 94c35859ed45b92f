"""The load of bench/recommendations/run.py: an open-loop generator (arrivals at a set rate,
never waiting for answers) and the closed loop that measures capacity, over the lean client."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from bench.rawhttp import Client, ProtocolError


@dataclass
class Phase:
    name: str
    rate: float
    latencies: list[float] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)  # each latency's due time in the phase
    errors: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # what the errors were
    computations: int = 0
    transactions: int = 0
    cpu_seconds: float = 0.0

    def requests(self) -> int:
        return len(self.latencies) + self.errors

    def slow_seconds(self, threshold: float) -> tuple[int, int, list[tuple[int, int]]]:
        """(answers slower than `threshold`, how many whole seconds of the phase they were due
        in, the three seconds with the most of them as (second, count)): whether a tail is
        spread over the phase or comes in a few stalls, and when."""
        per_second: dict[int, int] = {}
        for due, latency in zip(self.arrivals, self.latencies, strict=True):
            if latency > threshold:
                per_second[int(due)] = per_second.get(int(due), 0) + 1
        worst = sorted(per_second.items(), key=lambda item: item[1], reverse=True)[:3]
        return sum(per_second.values()), len(per_second), worst


@contextmanager
def collector_paused() -> Iterator[None]:
    """The generator's own garbage collector off for a phase. A phase keeps every request's task
    until it ends (tens of thousands); CPython's full collections walk them all, and each pause
    (120-150 ms here, logged through gc.callbacks) delayed every request due meanwhile, which
    the latencies counted as the server's: the surge's p99 read 100-380 ms where the server's
    own answers took a few. Nothing here makes reference cycles worth collecting in a phase."""
    gc.collect()
    gc.freeze()  # what is alive now is never walked again
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()


# The nearby answer ends with its degraded flag (apps/recommendations/api.py, _nearby_body).
_NOT_DEGRADED, _DEGRADED = b',"degraded":false}', b',"degraded":true}'
# One answer in this many is parsed whole all the same (is it JSON with the flag?).
PARSED_EVERY = 64


def degraded(body: bytes, *, parse: bool = False) -> bool:
    """The answer's `degraded` flag, read off its last bytes: parsing each 10 kB answer took
    83 µs of the generator's CPU, 11 % of a core at a 1,300 req/s surge, taken from the server it
    measures on the same two cores (the capacity's closed loop parses nothing). A body that does
    not end so, or one picked by `parse`, is parsed whole (ValueError if it is not JSON)."""
    if not parse:
        if body.endswith(_NOT_DEGRADED):
            return False
        if body.endswith(_DEGRADED):
            return True
    return bool(json.loads(body)["degraded"])


async def open_loop(client: Client, cells: list[str], phase: Phase, seconds: float) -> None:
    rng = random.Random(len(phase.name))  # the load's shape

    async def one(due: float, cell: str, parse: bool) -> None:
        try:
            answer = await client.get(f"/api/v1/recommendations/nearby/cells/{cell}")
            is_degraded = answer.status == 200 and degraded(answer.body, parse=parse)
            why = (
                ""
                if answer.status == 200 and not is_degraded
                else ("degraded" if is_degraded else f"HTTP {answer.status}")
            )
        except (OSError, ProtocolError, asyncio.IncompleteReadError, ValueError) as exc:
            why = type(exc).__name__
        if not why:
            phase.latencies.append(time.perf_counter() - due)
            phase.arrivals.append(due - start)
        else:
            phase.errors += 1
            phase.failures[why] = phase.failures.get(why, 0) + 1

    start, tasks = time.perf_counter(), []
    for number in range(int(phase.rate * seconds)):
        due = start + number / phase.rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        parse = number % PARSED_EVERY == 0
        tasks.append(asyncio.create_task(one(due, rng.choice(cells), parse)))
    await asyncio.gather(*tasks)


@dataclass
class Capacity:
    """A closed-loop reading: every answer, and the answers of each whole second."""

    answered: int
    seconds: float
    per_second: list[int]

    @property
    def mean(self) -> float:
        return self.answered / self.seconds

    @property
    def median(self) -> float:
        """Answers per second, the median of the whole seconds after the first (its readers are
        still opening connections): one slow phase of the machine moves it less than the mean,
        and C sets every phase's rate."""
        return statistics.median(self.per_second[1:] or self.per_second)  # never empty


async def closed_loop(client: Client, cells: list[str], seconds: float) -> Capacity:
    answered = 0
    start = time.perf_counter()
    stop = start + seconds
    per_second = [0] * max(1, int(seconds))

    async def reader(offset: int) -> None:
        nonlocal answered
        number = offset
        while time.perf_counter() < stop:
            await client.get(f"/api/v1/recommendations/nearby/cells/{cells[number % len(cells)]}")
            second = int(time.perf_counter() - start)
            if second < len(per_second):
                per_second[second] += 1
            answered, number = answered + 1, number + 1

    await asyncio.gather(*(reader(n) for n in range(32)))
    return Capacity(answered, seconds, per_second)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0
