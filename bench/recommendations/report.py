"""What bench/recommendations/run.py measured of one configuration, and how it prints it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.recommendations.phases import Capacity, Phase, percentile

SLOW_SECONDS = 0.05  # the surge's p99 target: how its slower answers spread over the phase


@dataclass(frozen=True)
class Measured:
    capacity: Capacity  # on cache hits, closed loop
    phases: list[Phase]
    stampede: Stampede | None  # not for the floor
    sample: bytes  # one answer's body: what the floor answers


@dataclass(frozen=True)
class Stampede:
    computed: int  # times the one key's list was computed, over every process
    degraded: int  # answers from the fallback (past the deadline while the list computed)
    failed: int  # anything but a 200


def report(label: str, measured: Measured) -> None:
    seconds = measured.capacity.per_second[1:] or [0]
    print(
        f"{label}: capacity {measured.capacity.median:,.0f} req/s (closed loop, 32 readers;"
        f" seconds {min(seconds):,}-{max(seconds):,}, mean {measured.capacity.mean:,.0f})"
    )
    for phase in measured.phases:
        n = max(phase.requests(), 1)
        print(
            f"  {phase.name:<7} {phase.rate:7.0f} req/s  n {phase.requests():>6}"
            f"  p50 {1000 * statistics.median(phase.latencies or [0]):6.1f} ms"
            f"  p99 {1000 * percentile(phase.latencies, 0.99):7.1f} ms"
            f"  errors/degraded {phase.errors}  hit {100 * (1 - phase.computations / n):5.1f} %"
            f"  db tx/req {phase.transactions / n:.3f}"
            f"  cpu/req {1000 * phase.cpu_seconds / n:.2f} ms"
            + (f"  ({', '.join(f'{k} {v}' for k, v in sorted(phase.failures.items()))})"
               if phase.failures else "")
        )  # fmt: skip
    slow, seconds_with_slow, worst = measured.phases[1].slow_seconds(SLOW_SECONDS)
    share = sum(count for _, count in worst) / slow if slow else 0.0
    print(
        f"  surge answers over {1000 * SLOW_SECONDS:.0f} ms: {slow:,} in {seconds_with_slow} of"
        f" its seconds; the worst 3 hold {100 * share:.0f} % of them (second: count"
        f" {', '.join(f'{second}: {count}' for second, count in worst)})"
    )
    stampede = measured.stampede
    if stampede is not None:
        print(
            f"  cold stampede: 1,000 concurrent requests for one key: computed {stampede.computed}"
            f" time(s), {stampede.degraded} degraded answers, {stampede.failed} failed"
        )


def surge_ratio(measured: Measured) -> tuple[float, float]:
    """(the surge's p99 in s, the surge's p99 over the steady phase's)."""
    steady, surge = (percentile(p.latencies, 0.99) for p in measured.phases[:2])
    return surge, surge / steady if steady else float("inf")
