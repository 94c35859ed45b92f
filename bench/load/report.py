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
    for step in (s for s in STEPS if any(lv.steps[s].count for lv in levels)):
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


def side_by_side(results: dict[str, list[LevelResult]], p99_limit_ms: float) -> str:
    """The peer comparison: per target and scenario, the highest clean level with its
    throughput and deliveries, and the CPU one scenario costs (at the lowest level, where
    queueing inflates it least); then the sends phase; then the ratios."""
    head = (
        "| target | scenario | highest clean users | scenarios/s | delivered msg/s | p99 ms "
        "| CPU ms per scenario (target / + PostgreSQL, Redis) |"
    )
    rows = ["\n### Side by side\n", head, "|---|---|---:|---:|---:|---:|---:|"]
    best: dict[str, LevelResult | None] = {}
    for key, levels in results.items():
        target, _, scenario = key.partition(" ")
        if scenario == "sends" or not levels:
            continue
        users = highest_clean(levels, p99_limit_ms)
        level = best[key] = next((lv for lv in levels if lv.users == users), None)
        figures = (
            f"{users} | {level.iterations_per_s:.1f} | {level.deliveries_per_s:.1f} "
            f"| {level.overall.p99_ms:.0f}"
            if level
            else "none | | |"
        )
        own, shared = _cpu_ms_per_scenario(levels[0])
        rows.append(f"| {target} | {scenario} | {figures} | {own:.1f} / {own + shared:.1f} |")
    rows += [
        "\nSends over 100 conversations, every socket subscribed, no think time:\n",
        "| target | sends/s | send p50 / p99 ms | delivered msg/s | delivery p99 ms | errors "
        "| CPU % target / PostgreSQL / Redis | CPU ms per send, all |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, levels in results.items():
        target, _, scenario = key.partition(" ")
        if scenario != "sends":
            continue
        lv, send = levels[0], levels[0].steps["send"]
        own = sum(v for k, v in lv.cpu_percent.items() if k not in SHARED_COLUMNS)
        pg, redis = lv.cpu_percent.get("postgres", 0.0), lv.cpu_percent.get("redis", 0.0)
        rate = send.count / lv.seconds
        rows.append(
            f"| {target} | {rate:.0f} | {send.p50_ms:.1f} / {send.p99_ms:.0f} "
            f"| {lv.deliveries_per_s:.0f} | {lv.steps['delivery'].p99_ms:.0f} | {lv.errors} "
            f"| {own:.0f} / {pg:.0f} / {redis:.0f} | {(own + pg + redis) * 10 / (rate or 1):.1f} |"
        )
    return "\n".join(rows + _ratios(results, best))


def _cpu_ms_per_scenario(level: LevelResult) -> tuple[float, float]:
    """CPU milliseconds per scenario of the target's own processes, and of PostgreSQL and
    Redis (percent of one core ÷ scenarios per second × 10)."""
    rate = level.iterations_per_s or float("nan")
    own = sum(v for k, v in level.cpu_percent.items() if k not in SHARED_COLUMNS)
    shared = level.cpu_percent.get("postgres", 0.0) + level.cpu_percent.get("redis", 0.0)
    return own * 10 / rate, shared * 10 / rate


def _ratios(
    results: dict[str, list[LevelResult]], best: dict[str, LevelResult | None]
) -> list[str]:
    """Cleave's figures over the two-process peer's, from this run."""
    peers = sorted({key.split(" ")[0] for key in results if key.endswith("-2 sends")})
    lines = ["\nRatios (Cleave ÷ the peer on two processes, same run):\n"]
    for peer, cleave in ((p, c) for p in peers for c in ("real", "embedded")):
        for scenario in ("chat", "login"):
            ours, theirs = results.get(f"{cleave} {scenario}"), results.get(f"{peer} {scenario}")
            if not ours or not theirs:
                continue
            mine, other = sum(_cpu_ms_per_scenario(ours[0])), sum(_cpu_ms_per_scenario(theirs[0]))
            line = f"- {cleave} vs {peer}, {scenario}: CPU per scenario {mine / other:.2f}×"
            a, b = best.get(f"{cleave} {scenario}"), best.get(f"{peer} {scenario}")
            if a and b:
                line += (
                    f", clean users {a.users / b.users:.2f}×, delivered "
                    f"msg/s {a.deliveries_per_s / (b.deliveries_per_s or 1):.2f}×"
                )
            lines.append(line)
        ours_s, theirs_s = results.get(f"{cleave} sends"), results.get(f"{peer} sends")
        if ours_s and theirs_s:
            mine_n, other_n = ours_s[0].steps["send"].count, theirs_s[0].steps["send"].count
            rate = (mine_n / ours_s[0].seconds) / ((other_n / theirs_s[0].seconds) or 1)
            lines.append(f"- {cleave} vs {peer}, sends/s: {rate:.2f}×")
    return lines if len(lines) > 1 else []
