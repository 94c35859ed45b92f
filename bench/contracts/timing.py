"""Latency samples: sequential and threaded timing, percentiles, and how many calls overlapped.

Shared by bench/contracts and bench/split. Times are wall-clock seconds from `perf_counter`.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Summary:
    """Percentiles of one set of samples, in milliseconds (nearest rank: p99 of 100 samples
    is the 99th smallest, never an interpolation between two)."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def summarize(seconds: list[float]) -> Summary:
    if not seconds:
        nan = float("nan")
        return Summary(0, nan, nan, nan, nan, nan)
    ordered = sorted(s * 1000 for s in seconds)
    return Summary(
        count=len(ordered),
        p50_ms=percentile(ordered, 0.50),
        p90_ms=percentile(ordered, 0.90),
        p99_ms=percentile(ordered, 0.99),
        mean_ms=statistics.fmean(ordered),
        max_ms=ordered[-1],
    )


def sequential(call: Callable[[], object], *, calls: int, warmup: int) -> list[float]:
    """`warmup` untimed calls (connections, caches, lazy imports), then `calls` timed ones."""
    for _ in range(warmup):
        call()
    samples: list[float] = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return samples


@dataclass(frozen=True)
class Concurrent:
    """`threads` callers at once: per-call latency, the total rate, and the calls that raised
    (not timed; `first_error` says what went wrong)."""

    threads: int
    latency: Summary
    calls_per_second: float
    errors: int = 0
    first_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "latency": self.latency.as_dict()}


def concurrent(
    call: Callable[[], object],
    *,
    threads: int,
    calls_per_thread: int,
    warmup: int,
    on_thread_exit: Callable[[], object] | None = None,
) -> Concurrent:
    """Each thread warms up, waits for the others, then makes its timed calls back to back.
    `on_thread_exit` runs in each thread at its end (e.g. to give back its database
    connection, which Django would otherwise hold for a thread that no longer exists)."""
    spans: list[list[Span]] = [[] for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def timed_calls(mine: list[Span]) -> None:
        for _ in range(calls_per_thread):
            started = time.perf_counter()
            try:
                call()
            except Exception as exc:  # counted and reported: a failing mode must show
                errors.append(exc)
                continue
            mine.append((started, time.perf_counter()))

    def worker(index: int) -> None:
        try:
            for _ in range(warmup):
                call()
        except Exception as exc:
            errors.append(exc)
        barrier.wait()
        try:
            timed_calls(spans[index])
        finally:
            if on_thread_exit is not None:
                on_thread_exit()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for thread in pool:
        thread.start()
    barrier.wait()
    for thread in pool:
        thread.join()
    every = [span for mine in spans for span in mine]
    wall = max(end for _, end in every) - min(start for start, _ in every) if every else 1.0
    return Concurrent(
        threads,
        summarize([end - start for start, end in every]),
        len(every) / wall,
        errors=len(errors),
        first_error=repr(errors[0])[:300] if errors else "",
    )


Span = tuple[float, float]


@dataclass(frozen=True)
class Overlap:
    """How many spans were open at once: `mean` is their summed length over the wall time
    (≈ 1.0: one at a time), `peak` the most open at any instant."""

    mean: float
    peak: int


def overlap(spans: list[Span]) -> Overlap:
    if not spans:
        return Overlap(0.0, 0)
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    busy = sum(end - start for start, end in spans)
    # Sweep the start/end points in time order; an end sorts before a start at the same instant.
    points = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    level = peak = 0
    for _, step in points:
        level += step
        peak = max(peak, level)
    return Overlap(busy / wall, peak)


class SpanRecorder:
    """Wraps a function and records when each call entered and left it (thread-safe:
    list.append is atomic under the GIL)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.spans: list[Span] = []

    def __call__(self, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return self.function(*args)
        finally:
            self.spans.append((started, time.perf_counter()))


def idle_fraction(seconds: float = 1.0) -> float:
    """The share of all cores' time spent idle over the next `seconds` (/proc/stat)."""

    def counters() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
        return fields[3] + fields[4], sum(fields)  # idle + iowait, total

    idle_before, total_before = counters()
    time.sleep(seconds)
    idle_after, total_after = counters()
    return (idle_after - idle_before) / max(total_after - total_before, 1)


def settle(*, idle: float = 0.8, timeout: float = 60.0) -> float:
    """Wait until the machine is mostly idle (a topology's start-up and first events done);
    give up after `timeout` seconds. Returns the last idle share seen."""
    deadline = time.monotonic() + timeout
    seen = idle_fraction()
    while seen < idle and time.monotonic() < deadline:
        seen = idle_fraction()
    return seen


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, as `uptime` shows them."""
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])
