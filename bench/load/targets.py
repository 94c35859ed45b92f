"""The two targets, each started fresh for the run and stopped at its end, also on failure.

embedded: `manage.py serve` (what `make run` serves: one process, HTTP and WebSockets, SQLite,
in-memory layers, events in-process) on a fresh temporary CLEAVE_VAR_DIR, with DEBUG off.
split: the `make split` topology (`cleave_deploy.split`, as `manage.py split start` runs it) on its
own ports, PostgreSQL databases, Redis database and folder, so it never meets anyone else's.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.load.drivers import CleaveDriver
from bench.load.levels import Target
from cleave.testing.processes import ROOT, embedded_env, free_port, process_env, wait_until_serving

# Each virtual user sends about one message per loop (well under the default send limit of
# 20 per 10 s); raised anyway so that a shorter --think measures the server, not the limit.
SEND_RATE = "100000/s"
EMBEDDED_ENV = {
    "DEBUG": "false",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "CLEAVE_MESSAGING_SEND_RATE": SEND_RATE,
}
SPLIT_ENV = {
    "GATEWAY_PORT": "18780",
    "SPLIT_BASE_PORT": "18800",
    "SPLIT_DATABASE_PREFIX": "cleave_load_split",
    "SPLIT_REDIS_URL": "redis://127.0.0.1:6379/11",
    "SPLIT_SERVICE_ENV": f"CLEAVE_MESSAGING_SEND_RATE={SEND_RATE}",
}
# Its own folder (keys, logs, pids): someone else's `make split-stop` reads var/split/pids.json
# and must not end this run's processes, nor this run theirs.
SPLIT_FOLDER = ROOT / "var" / "load-split"
LOGS = ROOT / "var" / "load"


@contextmanager
def embedded() -> Iterator[Target]:
    """A fresh embedded server on a free port; its log is var/load/embedded-server.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cleave-load-") as var_dir:
        env = process_env({**embedded_env(Path(var_dir)), **EMBEDDED_ENV})
        port = free_port()
        with (LOGS / "embedded-server.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", "--port", str(port)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, for the CPU figures
            )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{base}/healthz", process=process, timeout=60)
            yield Target("embedded", base, f"ws://127.0.0.1:{port}/ws/v1", {"server": process.pid})
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def split() -> Iterator[Target]:
    """The split topology, started on fresh databases and a flushed Redis database."""
    from cleave_deploy import split as topology_of

    topology = _split_topology()
    topology_of.stop(topology)  # a run that died before its own cleanup
    _drop_databases(topology)
    print(f"starting the split topology on {topology.gateway}…", file=sys.stderr)
    pids = topology_of.start(topology)
    try:
        yield Target(
            "split",
            topology.gateway,
            f"ws://127.0.0.1:{topology.gateway_port}/ws/v1",
            dict(pids),
            uses_shared_servers=True,
            database_marker=topology.database_prefix,
            driver=CleaveDriver(staff=_staff(SPLIT_FOLDER / "admin.env")),
        )
    finally:
        print(f"stopped {', '.join(topology_of.stop(topology))}", file=sys.stderr)


def _staff(admin_env: Path) -> tuple[str, str]:
    """The staff account `cleave_deploy.split` made for this topology (it vouches for addresses)."""
    values = dict(line.split("=", 1) for line in admin_env.read_text().split())
    return values["CLEAVE_E2E_ADMIN_EMAIL"], values["CLEAVE_E2E_ADMIN_PASSWORD"]


def _split_topology() -> Any:
    """cleave_deploy.split's Topology from SPLIT_ENV, in SPLIT_FOLDER. This process renders the
    gateway config from the URL configuration, so Django is set up here (all contexts
    installed, embedded settings: it never touches a database itself)."""
    for name in ("DATABASE_URL", "REDIS_URL", "CLEAVE_MODE", "CLEAVE_CONTEXTS"):
        os.environ.pop(name, None)
    SPLIT_FOLDER.mkdir(parents=True, exist_ok=True)
    os.environ["CLEAVE_VAR_DIR"] = str(SPLIT_FOLDER)
    os.environ["DJANGO_SETTINGS_MODULE"] = "cleave.settings"
    import django

    django.setup()
    from cleave_deploy.topology import Topology

    return dataclasses.replace(Topology.from_env(SPLIT_ENV), folder=SPLIT_FOLDER)


def _drop_databases(topology: Any) -> None:
    """Start from empty databases (ours only: the cleave_load_split_ prefix), so runs do not
    measure tables grown by earlier runs."""
    import psycopg

    server = topology.database_url.rstrip("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as db:
        for service in topology.web_services:
            name = f"{topology.database_prefix}_{service}"
            # psycopg types a query as a literal string; this name is the bench's own constant.
            db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
