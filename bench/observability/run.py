"""The cost of tracing and metrics on GET /api/v1/me, all configurations in one run.

One granian process (1 worker, 4 threads) per configuration, real mode (PostgreSQL + Redis),
the same user and access token; wrk (one thread, on the other core) drives it over loopback.
Traces are exported over OTLP/HTTP to an nginx that answers 200 to everything, so export costs
what it costs (serialising, a POST per batch) without a collector competing for the CPU.

    off          no tracing (no exporter configured), no request metrics (CLEAVE_METRICS=false)
    metrics      request metrics only (the default without an exporter)
    trace 1 %    metrics + tracing, parent-based ratio 0.01
    trace 100 %  metrics + tracing, every request sampled
    trace 1 %, otel-django   as "trace 1 %", with opentelemetry-instrumentation-django's
                 middleware instead of Cleave's lean one

Usage: python bench/observability/run.py [--duration 8] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.serving.run import run_wrk  # noqa: E402 - path set above
from cleave.testing.processes import free_port  # noqa: E402
from cleave.testing.servers import running_server, web_server_command  # noqa: E402

DATABASE = "cleave_bench_observability"
BASE_ENV = {
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}",
    "REDIS_URL": "redis://127.0.0.1:6379/10",
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
    "SECRET_KEY": "bench-observability-" + "x7Yq2Lm9Pz4Rt6Vw8Nb1Kc3Jd5Hf0Gs",
    "CLEAVE_ENCRYPTION_KEYS": "bench:" + "A" * 43,
    "CLEAVE_HASH_KEY": "B" * 43,
}
CONFIGS = {
    "off": {"CLEAVE_METRICS": "false"},
    "metrics": {},
    "trace 1 %": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.01",
    },
    "trace 100 %": {"OTEL_TRACES_SAMPLER": "parentbased_always_on"},
    # The maintained Django instrumentation instead of ours, for comparison.
    "trace 1 %, otel-django": {
        "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
        "OTEL_TRACES_SAMPLER_ARG": "0.01",
        "CLEAVE_TRACING_DJANGO": "maintained",
    },
}


def _sink(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    """nginx answering 200 to every POST: a trace sink that costs next to nothing."""
    port = free_port()
    conf = folder / "sink.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {folder}/sink.pid; error_log {folder}/sink.log;
events {{ worker_connections 256; }}
http {{ access_log off; client_body_temp_path {folder}; client_max_body_size 50m;
  server {{ listen 127.0.0.1:{port}; location / {{ return 200 "{{}}"; }} }} }}
"""
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    process = subprocess.Popen([nginx, "-c", str(conf)])
    time.sleep(0.5)
    return process, f"http://127.0.0.1:{port}"


def _prepare() -> str:
    """The bench database migrated, one user, and an access token for it."""
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        if not db.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone():
            db.execute(f'CREATE DATABASE "{DATABASE}"')
    env = {**os.environ, **BASE_ENV}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env,
        check=True,
    )  # fmt: skip
    port = free_port()
    with running_server(web_server_command(port), port=port, env=BASE_ENV) as base:
        email = f"bench-{time.time_ns()}@example.com"
        device = {"device_id": "bench", "platform": "ios", "app_version": "1.0"}
        body = {"email": email, "password": "bench-password-1234", "device": device}
        tokens = _post(f"{base}/api/v1/auth/register", {**body, "display_name": "Bench"})
        return str(tokens["tokens"]["access"])


def _post(url: str, body: dict[str, object]) -> dict[str, object]:
    request = urllib.request.Request(  # noqa: S310 - loopback
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        loaded: dict[str, object] = json.loads(response.read())
    return loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per round and config")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    token = _prepare()
    if args.dry_run:  # a server started, a token issued: enough
        print("dry run: database ready, token issued")
        return
    auth = ["-H", f"Authorization: Bearer {token}"]
    samples: dict[str, list[tuple[float, float, float, int]]] = {name: [] for name in CONFIGS}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        sink, sink_url = _sink(Path(folder))
        stack.callback(sink.wait)
        stack.callback(sink.terminate)
        urls = {}
        for name, extra in CONFIGS.items():  # all up at once; only the one under load works
            env = {**BASE_ENV, **extra}
            if name.startswith("trace"):
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = sink_url
            port = free_port()
            base = stack.enter_context(
                running_server(web_server_command(port, workers=1, threads=4), port=port, env=env)
            )
            urls[name] = f"{base}/api/v1/me"
            run_wrk(urls[name], duration=2, connections=args.connections, extra=auth)  # warm up
        # Round robin, so a change in the machine's other load hits every configuration alike.
        for _ in range(args.rounds):
            for name, url in urls.items():
                samples[name].append(
                    run_wrk(url, duration=args.duration, connections=args.connections, extra=auth)
                )
    baseline = statistics.median(rps for rps, *_ in samples["off"])
    print(
        f"GET /api/v1/me, granian 1 worker x 4 threads, wrk -t1 -c{args.connections}; "
        f"median of {args.rounds} rounds of {args.duration} s, round robin"
    )
    print(f"{'configuration':<24}{'req/s':>9}{'vs off':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for name, runs in samples.items():
        rps = statistics.median(run[0] for run in runs)
        p50 = statistics.median(run[1] for run in runs)
        p99 = statistics.median(run[2] for run in runs)
        errors = sum(run[3] for run in runs)
        print(f"{name:<24}{rps:>9.0f}{rps / baseline:>9.1%}{p50:>9.2f}{p99:>9.2f}{errors:>8}")


if __name__ == "__main__":
    main()
