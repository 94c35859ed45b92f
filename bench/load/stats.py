"""What one load level measured: per-step latencies, errors, iterations, and CPU.

Latencies are wall-clock seconds from `perf_counter`, summarised by bench/contracts/timing's
nearest-rank percentiles (plus p95 here).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.contracts.timing import percentile

# Every scenario's steps (bench/load/flows.py); "delivery" is send → the partner's socket.
STEPS = ("login", "flags", "conversations", "messages", "send", "delivery", "read", "refresh")


@dataclass(frozen=True)
class Latency:
    """Percentiles of one set of samples, in milliseconds."""

    count: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        if not seconds:
            nan = float("nan")
            return cls(0, nan, nan, nan, nan)
        ordered = sorted(s * 1000 for s in seconds)
        return cls(
            count=len(ordered),
            p50_ms=percentile(ordered, 0.50),
            p95_ms=percentile(ordered, 0.95),
            p99_ms=percentile(ordered, 0.99),
            max_ms=ordered[-1],
        )


@dataclass
class Recorder:
    """Samples and errors of one level, filled by every virtual user (one event loop: no
    locks needed)."""

    samples: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})
    errors: Counter[str] = field(default_factory=Counter)
    iterations: int = 0
    requests: int = 0

    def ok(self, step: str, seconds: float, *, http: bool = True) -> None:
        self.samples[step].append(seconds)
        self.requests += int(http)

    def error(self, step: str, reason: str, *, http: bool = True) -> None:
        self.errors[f"{step}: {reason}"] += 1
        self.requests += int(http)


@dataclass(frozen=True)
class LevelResult:
    """One level's figures, as printed and written to the JSON file."""

    users: int
    seconds: float
    iterations_per_s: float
    requests_per_s: float
    deliveries_per_s: float  # messages that reached the partner's socket in time
    overall: Latency  # every sample of every step, deliveries included
    steps: dict[str, Latency]
    errors: int
    error_kinds: dict[str, int]
    cpu_percent: dict[str, float]  # of one core, per process group; "machine" is of all cores
    load_average: str

    @classmethod
    def build(
        cls,
        recorder: Recorder,
        *,
        users: int,
        seconds: float,
        cpu_percent: dict[str, float],
        load_average: str,
    ) -> LevelResult:
        every = [s for samples in recorder.samples.values() for s in samples]
        return cls(
            users=users,
            seconds=seconds,
            iterations_per_s=recorder.iterations / seconds,
            requests_per_s=recorder.requests / seconds,
            deliveries_per_s=len(recorder.samples["delivery"]) / seconds,
            overall=Latency.of(every),
            steps={step: Latency.of(samples) for step, samples in recorder.samples.items()},
            errors=sum(recorder.errors.values()),
            error_kinds=dict(recorder.errors.most_common()),
            cpu_percent=cpu_percent,
            load_average=load_average,
        )

    def clean_under(self, p99_limit_ms: float) -> bool:
        """No errors at all, and p99 over every sample below the limit."""
        return self.errors == 0 and self.overall.count > 0 and self.overall.p99_ms < p99_limit_ms

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
