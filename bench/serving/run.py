"""Serving benchmark: req/s and latency of Cleave's servers against a bare Starlette reference.

Each server runs as one process; wrk (one thread, on the other core) drives it over loopback.
Usage: python bench/serving/run.py [--duration 10] [--connections 32]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from cleave.testing.processes import BIN, free_port, wait_until_serving  # noqa: E402 - path set above
from cleave.testing.servers import embedded_server_command, running_server, web_server_command  # noqa: E402 - path set above

ENV = {"DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1,localhost", "LOG_LEVEL": "WARNING"}
PATHS = {"healthz": "/healthz", "ninja hello": "/api/v1/meta"}


@dataclass
class Result:
    server: str
    endpoint: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    url: str, *, duration: int, connections: int, extra: list[str] | None = None
) -> tuple[float, float, float, int]:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", *(extra or []), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    if rate is None or p50 is None or p99 is None:
        raise RuntimeError(f"wrk's output lacks the rate or the latencies:\n{out}")
    rps = float(rate.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    total_errors = int(errors.group(1)) if errors else 0
    if socket_errors:
        total_errors += sum(int(n) for n in socket_errors.groups())
    return rps, _ms(*p50.groups()), _ms(*p99.groups()), total_errors


def servers(threads: list[int]) -> list[tuple[str, list[str], int]]:
    chosen = []
    # Two references: uvicorn's pure-Python defaults (h11 + asyncio) and uvicorn[standard]
    # (httptools + uvloop), which is ~3x faster here; ratios are given against both.
    for label, loop, http in (("h11", "asyncio", "h11"), ("httptools", "uvloop", "httptools")):
        port = free_port()
        command = [
            str(BIN / "uvicorn"), "bench.serving.reference_app:app", "--port", str(port),
            "--no-access-log", "--log-level", "warning", "--lifespan", "off",
            "--loop", loop, "--http", http,
        ]  # fmt: skip
        chosen.append((f"reference ({label}): Starlette on uvicorn", command, port))
    for count in threads:
        port = free_port()
        command = web_server_command(port, workers=1, threads=count)
        chosen.append((f"web: granian WSGI, {count} thread(s)", command, port))
    port = free_port()
    chosen.append(("embedded: uvicorn + WsgiBridge", embedded_server_command(port), port))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--web-threads", default="1,2,4,8", help="granian blocking threads to try")
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    if args.dry_run:  # one web server up, both endpoints answer, then stop
        port = free_port()
        with running_server(web_server_command(port, workers=1, threads=1), port=port, env=ENV):
            for path in PATHS.values():
                wait_until_serving(f"http://127.0.0.1:{port}{path}")
        print("dry run: web served " + ", ".join(PATHS.values()))
        return
    results: list[Result] = []
    for name, command, port in servers([int(n) for n in args.web_threads.split(",")]):
        with running_server(command, port=port, env=ENV) as base:
            for endpoint, path in PATHS.items():
                run_wrk(base + path, duration=2, connections=args.connections)  # warm up
                rps, p50, p99, errors = run_wrk(
                    base + path, duration=args.duration, connections=args.connections
                )
                results.append(Result(name, endpoint, rps, p50, p99, errors))
                print(f"  {name:38} {endpoint:12} {rps:9.0f} req/s", file=sys.stderr)
    report(results, args)


def report(results: list[Result], args: argparse.Namespace) -> None:
    def reference(label: str) -> dict[str, float]:
        return {r.endpoint: r.rps for r in results if r.server.startswith(f"reference ({label})")}

    h11, fast = reference("h11"), reference("httptools")
    print(f"\nwrk -t1 -c{args.connections} -d{args.duration}s, one server process each, loopback\n")
    print(
        "| server | endpoint | req/s | p50 ms | p99 ms | errors | vs h11 ref | vs httptools ref |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.server} | {r.endpoint} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.errors} | {r.rps / h11[r.endpoint]:.0%} | {r.rps / fast[r.endpoint]:.0%} |"
        )


if __name__ == "__main__":
    main()
