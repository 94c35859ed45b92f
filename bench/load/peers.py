"""The peers bench/load drives side by side with Cleave (`--peer`), and the dry run of that
command: every target started and put through each scenario briefly, the peer's install
checked without npm (and started too when it is already installed)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager

import uvloop

from bench.load import report
from bench.load.levels import Target, run_level
from bench.peers.parse import install
from bench.peers.parse.target import parse

TARGETS: dict[str, Callable[[], AbstractContextManager[Target]]] = {
    "parse-1": lambda: parse(1),
    "parse-2": lambda: parse(2),
}
# Cleave as the Procfile runs it and as `make run` does, then the peer on one process and on
# two (Cleave's `web` has two workers).
PEERS = {"parse": ["real", "embedded", "parse-1", "parse-2"]}
DRY_USERS, DRY_SECONDS, DRY_THINK = 2, 3.0, 0.2


def dry_run(
    args: argparse.Namespace, targets: dict[str, Callable[[], AbstractContextManager[Target]]]
) -> int:
    """Start each target, 2 users through each scenario (and the sends phase) for a few
    seconds; exit 1 on any error. A peer not installed is only checked (no npm in CI)."""
    failed = False
    for name in args.target:
        if name in TARGETS and install.installed_version() != install.pinned_version():
            print(f"[{name}] not installed; checked: {install.check()}", file=sys.stderr)
            continue
        with targets[name]() as target, asyncio.Runner(loop_factory=uvloop.new_event_loop) as loop:
            accounts = loop.run(target.driver.create_pool(target.base_url, DRY_USERS))
            for scenario in [*args.scenario, "sends"]:
                think = 0.0 if scenario == "sends" else DRY_THINK
                result = loop.run(
                    run_level(
                        target,
                        accounts,
                        users=DRY_USERS,
                        duration=DRY_SECONDS,
                        think=think,
                        scenario=scenario,
                    )
                )
                ok = result.errors == 0 and result.iterations_per_s > 0
                failed |= not ok
                print(
                    f"[{name} {scenario}] {'ok' if ok else 'FAILED'}: {report.level_line(result)}",
                    file=sys.stderr,
                )
    print("dry run " + ("FAILED" if failed else "passed"), file=sys.stderr)
    return int(failed)
