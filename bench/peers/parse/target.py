"""Parse Server started fresh for a load run, stopped at its end (also on failure).

Its own PostgreSQL database (LOAD_PARSE_DATABASE, default cleave_load_parse: dropped and
re-created) on 127.0.0.1:5432; `processes` Node processes (node:cluster) on one free port
(CLEAVE_TEST_PORTS); with two, LiveQuery goes through Redis (LOAD_PARSE_REDIS_URL, default
redis://127.0.0.1:6379/12 — Parse's pub/sub channels carry the app id, not the database).
The log is var/load/parse-<processes>.log.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

from bench.load.levels import Target
from bench.peers.parse.client import ParseDriver
from bench.peers.parse.install import install
from cleave.testing.processes import ROOT, free_port, wait_for, wait_until_serving

LOGS = ROOT / "var" / "load"


def settings() -> tuple[str, str]:
    """(database name, Redis URL) of this peer."""
    return (
        os.environ.get("LOAD_PARSE_DATABASE", "cleave_load_parse"),
        os.environ.get("LOAD_PARSE_REDIS_URL", "redis://127.0.0.1:6379/12"),
    )


def _fresh_database(name: str) -> None:
    import psycopg

    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        # psycopg types a query as a literal string; the name is this bench's own setting.
        db.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
        db.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]


@contextmanager
def parse(processes: int) -> Iterator[Target]:
    folder = install()
    database, redis_url = settings()
    _fresh_database(database)
    port, app_id = free_port(), f"bench-{secrets.token_hex(4)}"
    master_key = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "PARSE_PROCESSES": str(processes),
        "PARSE_PORT": str(port),
        "PARSE_APP_ID": app_id,
        "PARSE_MASTER_KEY": master_key,
        "PARSE_DATABASE_URI": f"postgres://postgres@127.0.0.1:5432/{database}",
        "PARSE_REDIS_URL": redis_url,
        "NODE_ENV": "production",
    }
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"parse-{processes}.log").open("wb") as log:
        server = subprocess.Popen(
            [shutil.which("node") or "node", "server.js"],
            cwd=folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the cluster's CPU, and its stop
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{base}/parse/health", process=server, timeout=60)
        ready = LOGS / f"parse-{processes}.log"
        wait_for(lambda: b"parse ready" in ready.read_bytes() or server.poll(), timeout=60)
        if server.poll() is not None:
            raise RuntimeError(f"Parse Server exited; see {ready}")
        yield Target(
            f"parse-{processes}",
            base,
            f"ws://127.0.0.1:{port}/parse",
            {"node": server.pid},
            uses_shared_servers=True,
            database_marker=database,
            driver=ParseDriver(app_id, master_key),
        )
    finally:
        try:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
