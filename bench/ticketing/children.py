"""Buyer processes for the benchmarks that run ticketing's own service (batches.py,
service_race.py): each child is the benchmark's own script with `--child …`, and answers
with one JSON line on stdout as its last line.

Started together, so a run measures buyers, not start-ups: with `ready_first`, every child
first prints "ready" (set up, connected) and then reads the start time from stdin, which the
parent sends to all of them before waiting for any.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any


def run(
    commands: Sequence[Sequence[str]], env: Mapping[str, str], *, ready_first: bool = False
) -> tuple[float, list[dict[str, Any]]]:
    """Each command as a child process: the start time sent to them (0.0 without
    `ready_first`), and each child's report. Exits the benchmark if one fails."""
    children = [
        subprocess.Popen(
            list(command),
            env=dict(env),
            text=True,
            stdin=subprocess.PIPE if ready_first else None,
            stdout=subprocess.PIPE,
        )
        for command in commands
    ]
    start = 0.0
    if ready_first:
        for child in children:  # every process set up before the first buyer starts
            if child.stdout is None or child.stdout.readline().strip() != "ready":
                sys.exit("a buyer process failed to start")
        start = time.time() + 0.5
        for child in children:  # the start to every process, before waiting for any
            assert child.stdin is not None  # noqa: S101 - opened as a pipe above
            child.stdin.write(f"{start}\n")
            child.stdin.flush()
    reports = []
    for child in children:
        out, _ = child.communicate()
        if child.returncode != 0:
            sys.exit(f"a buyer process failed ({child.returncode})")
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return start, reports


def configured_batch(script: str) -> str:
    """In the parent: Django set up for real mode, and the batch size configured (the run with
    batches uses it, the run without sets 0). Exits when there is no Redis."""
    from bench.ticketing import run as race

    race._prepare()
    from django.conf import settings

    if not settings.CONFIG.redis_url:
        sys.exit(f"{script} needs real mode: set REDIS_URL too")
    return str(settings.CLEAVE_TICKETING_HOLD_BATCH)  # type: ignore[misc]


def batch_counts() -> dict[str, int]:
    """In a child: what this process's batches wrote (services.hold_batches counts per process)."""
    from apps.ticketing.services import hold_batches

    written = hold_batches.written()
    return {"statements": written.statements, "batched": written.holds}


def total(reports: Sequence[Mapping[str, Any]], name: str) -> int:
    return sum(int(report[name]) for report in reports)
