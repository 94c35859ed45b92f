"""Contract call cost: identity's `user_get` in process vs over HTTP to a real `web` process.

One run, one user row in one PostgreSQL database, one granian process hosting identity
(`CLEAVE_CONTEXTS=identity`, trusting this script's service key). All calls are made from this
process, one after another after a warm-up, then from N threads at once:
  - in process: `cleave.contracts.client(IDENTITY, IdentityService)` (JSON round trip included);
  - HTTP transport: `registry.client(..., transport="http")` — service token, breaker, retries,
    httpx keep-alive pool, result validation: what a split service pays;
  - raw internal POST: the same request with a plain httpx client and a pre-signed token — the
    server's side of the call, without the transport's client-side work;
  - HTTP floor: `GET /healthz` on the same server with a plain httpx client.
Usage (PostgreSQL on 127.0.0.1:5432 with trust auth, Redis on 127.0.0.1:6379):
  .venv/bin/python bench/contracts/run.py [--calls 5000] [--threads 4] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.contracts.timing import (  # noqa: E402 - path set above
    Concurrent,
    Overlap,
    SpanRecorder,
    Summary,
    concurrent,
    load_average,
    overlap,
    sequential,
    summarize,
)

BENCH_DB = "cleave_bench_contracts"
DATABASE_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/7"
TARGET_P50_MS = 2.0
EMAIL = "contracts-bench@example.com"
WEB_THREADS = 4  # as `make split` runs each service's web process
Call = Callable[[], object]


def _environments() -> tuple[dict[str, str], dict[str, str]]:
    """The server's and this process's settings: same database, Redis and contexts; the
    server trusts the public half of the key this process signs its service tokens with."""
    from cleave.remote.service_tokens import generate_key
    from cleave.testing.processes import real_mode_keys

    private_key, public_jwk = generate_key("bench")
    common = {
        "CLEAVE_MODE": "real",
        "DEBUG": "false",
        # SECRET_KEY and encryption keys: real mode refuses development ones; kept across runs
        # because identity's signing keys in the bench database are encrypted with them.
        **real_mode_keys("bench_contracts"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": f"{DATABASE_SERVER}/{BENCH_DB}",
        "REDIS_URL": REDIS_URL,
        "CLEAVE_CONTEXTS": "identity",
        "LOG_LEVEL": "WARNING",
    }
    trusted = json.dumps({"keys": [public_jwk]})
    server = {**common, "CLEAVE_SERVICE_NAME": "identity", "CLEAVE_SERVICE_JWKS": trusted}
    # This process serves the internal endpoint too, without a socket (NoSocketClient).
    caller = {
        **common,
        "CLEAVE_SERVICE_NAME": "bench",
        "CLEAVE_SERVICE_KEY": private_key,
        "CLEAVE_SERVICE_JWKS": trusted,
    }
    return server, caller


def _setup(caller_env: dict[str, str]) -> int:
    """Create and migrate the bench database, set Django up here; return the user's id."""
    import psycopg

    with psycopg.connect(f"{DATABASE_SERVER}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone():
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ.update(caller_env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.settings"
    import django

    django.setup()
    from django.core.management import call_command

    from apps.identity.models import User

    call_command("migrate", verbosity=0)
    user = User.objects.filter(email=EMAIL).first() or User.objects.create_user(
        EMAIL, secrets.token_urlsafe(16), display_name="Contracts bench"
    )
    return int(user.pk)


IN_PROCESS = "in process (contracts.client)"
TRANSPORT = "HTTP transport (registry.client, http)"
RAW_POST = "raw internal POST (plain httpx)"
HEALTHZ = "HTTP floor: GET /healthz (plain httpx)"
NO_SOCKET_POST = "internal POST, no socket (WSGI app in this process)"
NO_SOCKET_HEALTHZ = "GET /healthz, no socket (WSGI app in this process)"
INTERNAL_PATH = "/internal/identity/user_get"


def _calls(base_url: str, user_id: int) -> tuple[dict[str, Call], SpanRecorder]:
    """One zero-argument callable per mode, each checked once to answer the right user; and
    a recorder of the spans the transport spends inside its breaker (`Breaker.call` wraps
    `_send`), which would never overlap if the breaker held its lock across a call."""
    from cleave.contracts.registry import client, registry
    from cleave.remote.transport import HttpTransport
    from contracts.identity import IDENTITY, IdentityService, UserGet

    # The transport to *this* server even though this process hosts identity too (for the
    # in-process mode): http_transport would look identity up in CLEAVE_SERVICE_URLS, which
    # only names contexts a process does not host.
    transport = HttpTransport(IDENTITY, base_url)
    inside_breaker = SpanRecorder(transport._send)
    transport._send = inside_breaker  # type: ignore[method-assign] - a probe, not a change
    registry.add_transport("http", lambda contract: transport)
    local = client(IDENTITY, IdentityService)
    remote = registry.client(IDENTITY, IdentityService, transport="http")
    query = UserGet(user_id=user_id)
    calls: dict[str, Call] = {
        IN_PROCESS: lambda: local.user_get(query),
        TRANSPORT: lambda: remote.user_get(query),
        **_plain_requests(base_url, query.model_dump_json().encode()),
    }
    checked = {name: _checked(name, call, user_id) for name, call in calls.items()}
    for call in checked.values():
        call()
    return checked, inside_breaker


def _plain_requests(base_url: str, body: bytes) -> dict[str, Call]:
    """The same internal request without the transport (plain httpx, pre-signed token), the
    HTTP floor, and both again handed to the WSGI application without a socket."""
    import httpx

    from bench.contracts.no_socket import NoSocketClient
    from cleave.remote.service_tokens import signer

    def token() -> dict[str, str]:
        # Per call, from the signer's cache as the transport does: a token signed once at
        # the start would expire (60 s) in the middle of a long run.
        return {"Authorization": f"Bearer {signer.token_for('identity', None)}"}

    http = httpx.Client(base_url=base_url)
    wsgi = NoSocketClient()
    json_type = {"Content-Type": "application/json"}
    return {
        RAW_POST: lambda: http.post(INTERNAL_PATH, content=body, headers={**token(), **json_type}),
        HEALTHZ: lambda: http.get("/healthz"),
        NO_SOCKET_POST: lambda: wsgi.request("POST", INTERNAL_PATH, body=body, headers=token()),
        NO_SOCKET_HEALTHZ: lambda: wsgi.request("GET", "/healthz"),
    }


def _checked(name: str, call: Call, user_id: int) -> Call:
    """`call`, failing on anything but a 200 or the user's profile: a timing of error answers
    (a refused token, an exhausted pool) would look fast and mean nothing."""

    def checked() -> object:
        answer: Any = call()
        status = getattr(answer, "status_code", None)
        if status is not None and status != 200:
            raise RuntimeError(f"{name}: HTTP {status}: {answer.text[:300]}")
        if status is None and answer.id != user_id:
            raise RuntimeError(f"{name}: answered {answer!r}")
        return answer

    return checked


def _measure(
    calls: dict[str, Call], probe: SpanRecorder, *, count: int, threads: int
) -> tuple[dict[str, Summary], dict[str, Concurrent], Overlap]:
    from django.db import connections

    warmup = max(200, count // 10)
    alone: dict[str, Summary] = {}
    together: dict[str, Concurrent] = {}
    for name, call in calls.items():
        alone[name] = summarize(sequential(call, calls=count, warmup=warmup))
        print(f"  {name:42} p50 {alone[name].p50_ms:.3f} ms", file=sys.stderr)
    inside = Overlap(0.0, 0)
    for name, call in calls.items():
        probe.spans.clear()  # keep only the threaded run's calls (its warm-up included)
        together[name] = concurrent(
            call,
            threads=threads,
            calls_per_thread=count // threads,
            warmup=warmup // threads,
            on_thread_exit=connections.close_all,
        )
        if name == TRANSPORT:
            inside = overlap(list(probe.spans))
    return alone, together, inside


def _report(
    alone: dict[str, Summary],
    together: dict[str, Concurrent],
    inside: Overlap,
    *,
    threads: int,
    load: str,
) -> None:
    print(f"\nload average before: {load}; sequential calls from one thread\n")
    print("| mode | calls | p50 ms | p90 ms | p99 ms | mean ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, s in alone.items():
        print(
            f"| {name} | {s.count:,} | {s.p50_ms:.3f} | {s.p90_ms:.3f} | {s.p99_ms:.3f} "
            f"| {s.mean_ms:.3f} |"
        )
    print(f"\n{threads} caller threads at once\n")
    print("| mode | calls | errors | p50 ms | p99 ms | calls/s | vs 1 thread |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, c in together.items():
        alone_rate = 1000 / alone[name].mean_ms
        print(
            f"| {name} | {c.latency.count:,} | {c.errors} | {c.latency.p50_ms:.3f} "
            f"| {c.latency.p99_ms:.3f} | {c.calls_per_second:,.0f} "
            f"| {c.calls_per_second / alone_rate:.2f}x |"
        )
    for name, c in together.items():
        if c.errors:
            print(f"  {name}: {c.errors} errors, the first: {c.first_error}")
    print(
        f"\ntransport calls inside the breaker at once ({threads} threads): "
        f"mean {inside.mean:.2f}, peak {inside.peak}"
    )
    _reading(alone)


def _reading(alone: dict[str, Summary]) -> None:
    """The target, the ratios, and the remote p50 taken apart by differences of p50s."""
    remote, floor, local, raw = alone[TRANSPORT], alone[HEALTHZ], alone[IN_PROCESS], alone[RAW_POST]
    wsgi_post, wsgi_healthz = alone[NO_SOCKET_POST], alone[NO_SOCKET_HEALTHZ]
    verdict = "met" if remote.p50_ms < TARGET_P50_MS else "NOT met"
    print(
        f"\nremote p50 {remote.p50_ms:.3f} ms vs target {TARGET_P50_MS} ms: {verdict} "
        f"({remote.p50_ms / TARGET_P50_MS:.0%} of it)\n"
        f"remote vs HTTP floor (p50): {remote.p50_ms / floor.p50_ms:.2f}x "
        f"(+{remote.p50_ms - floor.p50_ms:.3f} ms)\n"
        f"remote vs in process (p50): {remote.p50_ms / local.p50_ms:.1f}x "
        f"(+{remote.p50_ms - local.p50_ms:.3f} ms)\n"
        "where the remote p50 goes (differences of p50s):\n"
        f"  the call itself, in process: {local.p50_ms:.3f} ms\n"
        f"  Django request handling around it (no-socket POST - in process): "
        f"{wsgi_post.p50_ms - local.p50_ms:+.3f} ms\n"
        f"  loopback HTTP: client, kernel, granian (healthz - no-socket healthz): "
        f"{floor.p50_ms - wsgi_healthz.p50_ms:+.3f} ms\n"
        f"  the transport's client side (transport - raw POST): "
        f"{remote.p50_ms - raw.p50_ms:+.3f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=5000, help="timed calls per mode")
    parser.add_argument("--threads", type=int, default=4, help="concurrent callers")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--dry-run", action="store_true", help="start what it needs, then stop")
    args = parser.parse_args()
    load = load_average()
    server_env, caller_env = _environments()
    user_id = _setup(caller_env)
    from cleave.testing.processes import free_port
    from cleave.testing.servers import running_server, web_server_command

    port = free_port()
    command = web_server_command(port, workers=1, threads=WEB_THREADS)
    with running_server(command, port=port, env=server_env) as base_url:
        calls, probe = _calls(base_url, user_id)
        if args.dry_run:  # set up, serving, and the calls built: enough
            print(f"dry run: {len(calls)} calls ready against {base_url}")
            return
        alone, together, inside = _measure(calls, probe, count=args.calls, threads=args.threads)
    _report(alone, together, inside, threads=args.threads, load=load)
    if args.json:
        figures = {
            "load_average_before": load,
            "load_average_after": load_average(),
            "calls": args.calls,
            "sequential": {name: s.as_dict() for name, s in alone.items()},
            "concurrent": {name: c.as_dict() for name, c in together.items()},
            "transport_inside_breaker": {"mean": inside.mean, "peak": inside.peak},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
