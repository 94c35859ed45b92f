"""Markdown tables and verdicts from the levels' results."""

from __future__ import annotations

import sys

from bench.load.stats import STEPS, LevelResult

# CPU columns after the target's own; "machine" is percent of all cores, the rest of one core.
SHARED_COLUMNS = ("load generator", "postgres", "redis", "others", "machine")


def level_line(result: LevelResult) -> str:
    """One line per level while the run goes on."""
    o = result.overall
    return (
        f"{result.users} users: {result.iterations_per_s:.1f} it/s, "
        f"{result.requests_per_s:.0f} req/s, p50 {o.p50_ms:.0f} ms, p95 {o.p95_ms:.0f} ms, "
        f"p99 {o.p99_ms:.0f} ms, errors {result.errors} {result.error_kinds or ''}, "
        f"cpu {result.cpu_percent}"
    )


def highest_clean(levels: list[LevelResult], p99_limit_ms: float) -> int | None:
    """The most users of a level with 0 errors and p99 under the limit (None: no level)."""
    clean = [level.users for level in levels if level.clean_under(p99_limit_ms)]
    return max(clean) if clean else None


def markdown(results: dict[str, list[LevelResult]], p99_limit_ms: float) -> str:
    parts = []
    for name, levels in results.items():
        best = highest_clean(levels, p99_limit_ms)
        parts += [
            f"\n### {name}\n",
            _levels_table(levels),
            f"\nHighest clean level (0 errors, p99 < {p99_limit_ms:.0f} ms): "
            f"{best if best is not None else 'none'} users\n",
            _steps_table(levels),
            _errors(levels),
        ]
    return "\n".join(part for part in parts if part)


def _levels_table(levels: list[LevelResult]) -> str:
    cpus = [_cpu_by_kind(level.cpu_percent) for level in levels]
    kinds = list(cpus[0]) if cpus else []
    head = (
        "| users | scenarios/s | req/s | p50 ms | p95 ms | p99 ms | errors | "
        + " | ".join(f"CPU {kind} %" for kind in kinds)
        + " | load avg |"
    )
    rows = [head, "|" + "---:|" * (7 + len(kinds)) + "---|"]
    for level, used in zip(levels, cpus, strict=True):
        o = level.overall
        cpu = " | ".join(f"{used.get(kind, 0):.0f}" for kind in kinds)
        rows.append(
            f"| {level.users} | {level.iterations_per_s:.1f} | {level.requests_per_s:.0f} "
            f"| {o.p50_ms:.0f} | {o.p95_ms:.0f} | {o.p99_ms:.0f} | {level.errors} | {cpu} "
            f"| {level.load_average} |"
        )
    return "\n".join(rows)


def _cpu_by_kind(cpu_percent: dict[str, float]) -> dict[str, float]:
    """Split services' groups added up by kind ("identity-web" → "web"), the target's
    groups first, then the shared and machine-wide figures."""
    kinds: dict[str, float] = {}
    for name, used in cpu_percent.items():
        if name not in SHARED_COLUMNS:
            kind = name.rsplit("-", 1)[-1]
            kinds[kind] = kinds.get(kind, 0.0) + used
    return kinds | {name: cpu_percent.get(name, 0.0) for name in SHARED_COLUMNS}


def _steps_table(levels: list[LevelResult]) -> str:
    head = "| step | " + " | ".join(f"{lv.users} users p50/p95/p99 ms" for lv in levels) + " |"
    rows = ["\n" + head, "|---|" + "---:|" * len(levels)]
    for step in STEPS:
        cells = " | ".join(
            f"{s.p50_ms:.0f} / {s.p95_ms:.0f} / {s.p99_ms:.0f}"
            for s in (lv.steps[step] for lv in levels)
        )
        rows.append(f"| {step} | {cells} |")
    return "\n".join(rows)


def _errors(levels: list[LevelResult]) -> str:
    lines = [
        f"- {lv.users} users: " + ", ".join(f"{kind} × {n}" for kind, n in lv.error_kinds.items())
        for lv in levels
        if lv.errors
    ]
    return "\nErrors:\n" + "\n".join(lines) if lines else ""


def smoke_verdict(levels: list[LevelResult]) -> int:
    """0 when every level ran scenarios with no error at all, else 1 (with the reason)."""
    for level in levels:
        if level.errors or level.iterations_per_s == 0:
            print(f"smoke FAILED: {level_line(level)}", file=sys.stderr)
            return 1
    print("smoke passed: 0 errors", file=sys.stderr)
    return 0
