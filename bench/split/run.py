"""End-to-end latency of the main mobile flows: the monolith vs the split topology.

Starts the `make split` topology twice on its own ports, Redis database and PostgreSQL
databases — `SPLIT_LAYOUT=monolith` (one service hosting every context) and `SPLIT_LAYOUT=split`
(a service per context, contract calls over HTTP) — each behind the same nginx, realtime
process and workers, and drives both from this process through the gateway (httpx and a
`websockets` client, one request at a time). Stops each topology before the next and at the
end, whatever happens. Usage (PostgreSQL on 127.0.0.1:5432 with trust auth, Redis, nginx):
  .venv/bin/python bench/split/run.py [--iterations 100] [--json out.json]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.contracts.timing import Summary, load_average, settle, summarize  # noqa: E402 - path set above
from bench.split.flows import Samples, connect, measure, register_cast  # noqa: E402

if TYPE_CHECKING:
    from cleave_deploy.topology import Topology

# Its own ports, databases and Redis database, so it never meets a developer's `make split`.
TOPOLOGY_ENV = {
    "GATEWAY_PORT": "18580",
    "SPLIT_BASE_PORT": "18600",
    "SPLIT_DATABASE_PREFIX": "cleave_bench_split",
    "SPLIT_REDIS_URL": "redis://127.0.0.1:6379/8",
    # alice sends `iterations` messages in a row: measured latency, not the spam limit.
    "SPLIT_SERVICE_ENV": "CLEAVE_MESSAGING_SEND_RATE=100000/s",
}
# Its own folder too (keys, logs, pids): `make split-stop` run by someone else reads
# var/split/pids.json and must not end this run's processes, nor this run theirs.
FOLDER = ROOT / "var" / "bench-split"
LAYOUTS = ("monolith", "split")


def _django() -> None:
    """This process renders the gateway config (from the URL configuration, all contexts
    installed) and starts the topology; it never touches a database itself."""
    for name in ("DATABASE_URL", "REDIS_URL", "CLEAVE_MODE", "CLEAVE_CONTEXTS"):
        os.environ.pop(name, None)
    os.environ["CLEAVE_VAR_DIR"] = str(FOLDER)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.settings"
    import django

    django.setup()


def _topology(layout: str) -> Topology:
    from cleave_deploy.topology import Topology

    topology = Topology.from_env({**TOPOLOGY_ENV, "SPLIT_LAYOUT": layout})
    return dataclasses.replace(topology, folder=FOLDER)


def _run_layout(layout: str, iterations: int) -> tuple[Samples, str]:
    """Start one layout, measure every flow against it, stop it (also on failure)."""
    from cleave_deploy import split

    topology = _topology(layout)
    split.stop(topology)  # a run that died before its own cleanup
    print(f"starting the {layout} layout…", file=sys.stderr)
    split.start(topology)
    try:
        api, websocket_url = connect(topology.gateway)
        try:
            cast = register_cast(api, topology.folder / "admin.env")
            # Start-up and the registrations' events keep the workers busy for a while; both
            # layouts are measured from a quiet machine, not the first one from a busier one.
            idle = settle()
            load = f"{load_average()} ({idle:.0%} idle)"
            samples = measure(api, cast, websocket_url, iterations=iterations)
        finally:
            api.http.close()
    finally:
        print(f"stopped {', '.join(split.stop(topology))}", file=sys.stderr)
    return samples, load


def _dry_run() -> None:
    """The split layout started, reached through its gateway, stopped: no timed steps."""
    from cleave_deploy import split

    topology = _topology("split")
    split.stop(topology)
    split.start(topology)
    try:
        api, _ = connect(topology.gateway)
        api.http.close()
    finally:
        stopped = split.stop(topology)
    print(f"dry run: the split layout served its gateway; stopped {', '.join(stopped)}")


def _report(results: dict[str, dict[str, Summary]], loads: dict[str, str]) -> None:
    monolith, split = results["monolith"], results["split"]
    print(
        "\nload average when measuring: "
        + "; ".join(f"{layout} {load}" for layout, load in loads.items())
        + "\n"
    )
    print(
        "| step | n | monolith p50 ms | monolith p99 ms | split p50 ms | split p99 ms "
        "| split/monolith p50 | split/monolith p99 |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for step, m in monolith.items():
        s = split[step]
        print(
            f"| {step} | {m.count} | {m.p50_ms:.2f} | {m.p99_ms:.2f} | {s.p50_ms:.2f} "
            f"| {s.p99_ms:.2f} | {s.p50_ms / m.p50_ms:.2f}x | {s.p99_ms / m.p99_ms:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=100, help="timed runs of each step")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    FOLDER.mkdir(parents=True, exist_ok=True)
    _django()
    if args.dry_run:
        _dry_run()
        return
    results: dict[str, dict[str, Summary]] = {}
    loads: dict[str, str] = {}
    for layout in LAYOUTS:
        samples, loads[layout] = _run_layout(layout, args.iterations)
        results[layout] = {step: summarize(values) for step, values in samples.items()}
    _report(results, loads)
    if args.json:
        figures = {
            "load_average": loads,
            "iterations": args.iterations,
            "steps": {
                layout: {step: s.as_dict() for step, s in steps.items()}
                for layout, steps in results.items()
            },
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
