"""`make split`: the split topology on loopback — one service per context, behind nginx.

Each context runs as its own service: a `web` process (granian) and a Celery worker for its
own queues (its tasks and `events.<context>`, beat embedded), on its own PostgreSQL database
(`<SPLIT_DATABASE_PREFIX>_<service>`, default `cleave_split_<service>`, created if missing).
A `realtime` process hosts the WebSocket endpoint (with the contexts whose declarations say
their streams and frames need it). They share one Redis (broker, cache and channel layer).
nginx listens on 127.0.0.1:$GATEWAY_PORT and routes by the URL configuration
(cleave_deploy.nginx). Which contexts exist, which is the edge and which need the realtime
process: their declarations (cleave.contexts).
`SPLIT_LAYOUT=monolith` runs the same shape with one service hosting every context, so the two
can be compared. Everything lives under var/split/: service keys, logs, nginx files, and the
pids `make split-stop` ends. This module starts and stops the processes; what they are (ports,
databases, environment, keys) is cleave_deploy.topology.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from cleave.progress import Progress
from cleave.server_limits import WS_MAX_BYTES
from cleave_deploy.nginx import GatewayLimits, NginxPaths, Tls, render_nginx_conf
from cleave_deploy.tls import self_signed_certificate
from cleave_deploy.topology import ROOT, SplitError, Topology, service_env, service_keys

BIN = Path(sys.executable).parent
ADMIN_EMAIL = "split-admin@example.com"


def _create_databases(topology: Topology, *, fresh: bool) -> None:
    """Each service's database, created if missing; with `fresh` (new keys), recreated: rows
    encrypted under keys this topology no longer has could not be read."""
    import psycopg

    with psycopg.connect(f"{topology.database_url.rstrip('/')}/postgres", autocommit=True) as db:
        existing = {row[0] for row in db.execute("SELECT datname FROM pg_database")}
        for service in topology.web_services:
            name = f"{topology.database_prefix}_{service}"
            if fresh and name in existing:
                db.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            if fresh or name not in existing:
                db.execute(f'CREATE DATABASE "{name}"')


def _flush_redis(topology: Topology) -> None:
    # The topology's own Redis database: a fresh start forgets queues, streams, rate-limit
    # counters and revocations of the last run (the PostgreSQL data is kept).
    import redis

    client = redis.Redis.from_url(topology.redis_url)
    try:
        client.flushdb()
    finally:
        client.close()


def _run(command: list[str], env: Mapping[str, str], *, check: bool = True) -> int:
    result = subprocess.run(  # noqa: S603 - our own manage.py
        command, cwd=ROOT, env={**_base_env(), **env}, capture_output=True, text=True, timeout=300
    )
    if check and result.returncode != 0:
        raise SplitError(f"{' '.join(command[1:3])} failed:\n{result.stdout}\n{result.stderr}")
    return result.returncode


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEAVE_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    env["PATH"] = f"{BIN}:{env.get('PATH', '')}"
    return env


def _commands(topology: Topology, service: str) -> dict[str, list[str]]:
    port = str(topology.port(service))
    queues = ",".join([f"celery.{service}", *(f"events.{c}" for c in topology.services[service])])
    if service == "realtime":
        from django.conf import settings  # `manage.py split` has configured Django

        return {
            "realtime": [
                str(BIN / "uvicorn"), "cleave.asgi:application", "--host", "127.0.0.1",
                "--port", port, "--lifespan", "off", "--no-access-log",
                "--ws-per-message-deflate", "false", "--ws-max-size", str(WS_MAX_BYTES),
                "--backlog", str(settings.CLEAVE_REALTIME_BACKLOG), "--log-level", "warning",
            ]
        }  # fmt: skip
    return {
        f"{service}-web": [
            str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", port,
            "--workers", "1", "--blocking-threads", "4", "--no-ws", "cleave.wsgi:application",
        ],
        f"{service}-worker": [
            str(BIN / "celery"), "-A", "cleave.celery", "worker", "--beat", "--pool", "solo",
            "--queues", queues, "--hostname", f"{service}@%h",
            "--schedule", str(topology.folder / f"beat-{service}"), "--loglevel", "INFO",
        ],
    }  # fmt: skip


def start_steps(topology: Topology) -> int:
    """The steps `start` reports: databases, each migration, static files, each service up,
    the gateway, the workers."""
    return len(topology.web_services) + len(topology.services) + 4


def start(topology: Topology, progress: Progress | None = None) -> dict[str, int]:
    """Start everything, wait until the gateway and every service answer; return the pids.
    `progress` hears of each step as it is done (each service as it comes up)."""
    shown = progress or Progress(
        "split start", total=start_steps(topology), stream=io.StringIO(), unit="steps"
    )
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SplitError("nginx is not installed (Debian: apt-get install nginx-light)")
    if (topology.folder / "pids.json").exists():
        raise SplitError("the split topology is already running: `make split-stop` first")
    (topology.folder / "logs").mkdir(parents=True, exist_ok=True)
    keys, fresh = service_keys(topology)
    _create_databases(topology, fresh=fresh)
    _flush_redis(topology)
    shown.advance()
    shown.note("databases and Redis ready")
    envs = {service: service_env(topology, service, keys) for service in topology.services}
    for service in topology.web_services:
        _run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], envs[service])
        if topology.demo_data:  # each service seeds its own contexts' (shows to sell, say)
            _run([sys.executable, "manage.py", "seed_demo", "--data-only"], envs[service])
        shown.advance()
        shown.note(f"{service}: migrated")
    edge = envs[topology.host_of(topology.edge)]
    _run([sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"], edge)
    _ensure_admin(topology, edge)
    shown.advance()
    pids: dict[str, int] = {}
    drains: dict[str, str] = {}
    try:
        for service, env in envs.items():
            for name, command in _commands(topology, service).items():
                own = dict(env)
                if not name.endswith("-worker"):  # what answers /readyz can drain
                    drains[name] = own["CLEAVE_DRAIN_FILE"] = drain_file(topology, name)
                pids[name] = _spawn(topology, name, command, own)
        (topology.folder / "drains.json").write_text(json.dumps(drains, indent=2))
        pids["gateway"] = _spawn(topology, "gateway", _nginx(topology, nginx), {})
        (topology.folder / "pids.json").write_text(json.dumps(pids, indent=2))
        for service in topology.services:
            _wait_ready(topology.url(service) + "/readyz", topology, service)
            shown.advance()
            shown.note(f"{service}: up at {topology.url(service)}")
        _wait_ready(topology.gateway + "/readyz", topology, "gateway")
        shown.advance()
        shown.note(f"gateway: up at {topology.gateway}")
        _wait_workers(topology)
        shown.advance()
        shown.note("workers: ready")
    except BaseException:
        stop(topology)
        raise
    return pids


def drain_file(topology: Topology, name: str) -> str:
    """A new path for one process instance's drain file (`CLEAVE_DRAIN_FILE`): created when a
    restart replaces the instance (cleave_deploy.rolling), so its readiness goes false first."""
    folder = topology.folder / "drain"
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{name}.{secrets.token_hex(4)}")


def _ensure_admin(topology: Topology, env: dict[str, str]) -> None:
    """The edge's staff account (its password kept across starts), and what the black-box
    suite needs to reach every service's admin: written to admin.env."""
    path = topology.folder / "admin.env"
    values = dict(line.split("=", 1) for line in path.read_text().split()) if path.exists() else {}
    if "CLEAVE_E2E_ADMIN_PASSWORD" not in values:
        values = {
            "CLEAVE_E2E_ADMIN_EMAIL": ADMIN_EMAIL,
            "CLEAVE_E2E_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        }
    edge = topology.host_of(topology.edge)
    # Admin cookies are Secure in real mode: the suite signs in over the gateway's TLS port.
    values["CLEAVE_E2E_ADMIN_URL"] = f"https://127.0.0.1:{topology.gateway_tls_port}"
    values["CLEAVE_E2E_ADMIN_CA"] = str(topology.folder / "tls" / "gateway.crt")
    values["CLEAVE_E2E_ADMIN_SERVICES"] = ",".join(
        service for service in topology.web_services if service != edge
    )
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    path.chmod(0o600)
    admin_env = {
        **env,
        "DJANGO_SUPERUSER_EMAIL": values["CLEAVE_E2E_ADMIN_EMAIL"],
        "DJANGO_SUPERUSER_PASSWORD": values["CLEAVE_E2E_ADMIN_PASSWORD"],
    }
    # Fails harmlessly when the account exists from an earlier start.
    _run([sys.executable, "manage.py", "createsuperuser", "--no-input"], admin_env, check=False)


def upstreams(topology: Topology) -> dict[str, str]:
    """The gateway's upstream of each context: the service hosting it."""
    return {
        context: f"127.0.0.1:{topology.port(topology.host_of(context))}"
        for context in topology.contexts
    }


def _nginx(topology: Topology, nginx: str) -> list[str]:
    paths = NginxPaths.under(topology.folder / "nginx")
    paths.create()
    tls_files = self_signed_certificate(topology.folder / "tls")
    conf = topology.folder / "nginx" / "nginx.conf"
    conf.write_text(
        render_nginx_conf(
            upstreams=upstreams(topology),
            realtime=f"127.0.0.1:{topology.port('realtime')}",
            edge=topology.edge,
            listen=f"127.0.0.1:{topology.gateway_port}",
            paths=paths,
            daemon=False,
            # One loopback client runs whole test suites: a roomier per-IP budget than the
            # generated default for a public gateway.
            limits=GatewayLimits(rate="200r/s", burst=400),
            # TLS with a self-signed certificate on GATEWAY_TLS_PORT; plain HTTP stays on
            # GATEWAY_PORT for local tools (a real gateway redirects it: see extraction.md).
            tls=Tls(
                listen=f"127.0.0.1:{topology.gateway_tls_port}",
                certificate=tls_files[0],
                key=tls_files[1],
                serve_plain=True,
            ),
        )
    )
    return [nginx, "-c", str(conf), "-p", str(topology.folder / "nginx")]


def _spawn(topology: Topology, name: str, command: list[str], env: dict[str, str]) -> int:
    log = (topology.folder / "logs" / f"{name}.log").open("ab")
    process = subprocess.Popen(  # noqa: S603 - our own commands
        command,
        cwd=ROOT,
        env={**_base_env(), **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stop() ends it with its children
    )
    log.close()
    return process.pid


def _wait_ready(url: str, topology: Topology, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our loopback services
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SplitError(f"{name} not ready at {url} after {timeout:.0f}s; see {topology.folder}/logs")


def _wait_workers(topology: Topology, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    logs = [topology.folder / "logs" / f"{name}-worker.log" for name in topology.web_services]
    while time.monotonic() < deadline:
        if all(b" ready." in log.read_bytes() for log in logs if log.exists()):
            return
        time.sleep(0.2)
    raise SplitError(f"workers not ready after {timeout:.0f}s; see {topology.folder}/logs")


def stop(topology: Topology, timeout: float = 15.0) -> list[str]:
    """End every process of the topology (TERM, then KILL); return the names stopped."""
    path = topology.folder / "pids.json"
    if not path.exists():
        return []
    pids: dict[str, int] = json.loads(path.read_text())
    for pid in pids.values():
        _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid in pids.values()):
        time.sleep(0.1)
    for pid in pids.values():
        _signal_group(pid, signal.SIGKILL)
    path.unlink()
    (topology.folder / "drains.json").unlink(missing_ok=True)
    shutil.rmtree(topology.folder / "drain", ignore_errors=True)
    return sorted(pids)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its dead parent) counts as gone.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")
