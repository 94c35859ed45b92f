"""Cleave in real mode as the Procfile runs it: `web` (granian, 2 workers × 4 threads),
`realtime` (uvicorn), `worker` and `events` (Celery), each the Procfile's own line, on a fresh
PostgreSQL database and a flushed Redis database, on free ports (CLEAVE_TEST_PORTS).

The database and Redis come from LOAD_REAL_DATABASE (default cleave_load_real, on the
PostgreSQL of 127.0.0.1:5432) and LOAD_REAL_REDIS_URL (default redis://127.0.0.1:6379/12); the
database is dropped and re-created, the Redis database flushed: give it ones of its own.
Keys: cleave.testing's real_mode_keys (derived from the name "load_real"). The send limit is raised
through its setting (CLEAVE_MESSAGING_SEND_RATE), as for the other targets.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from bench.load.drivers import CleaveDriver
from bench.load.levels import Target
from cleave.testing.processes import (
    BIN,
    ROOT,
    free_port,
    process_env,
    real_mode_keys,
    stop_process_group,
    wait_until_serving,
)

PROCESSES = ("web", "realtime", "worker", "events")
LOGS = ROOT / "var" / "load"
STAFF_EMAIL = "load-staff@example.com"


def settings() -> tuple[str, str]:
    """(database name, Redis URL) of this target."""
    return (
        os.environ.get("LOAD_REAL_DATABASE", "cleave_load_real"),
        os.environ.get("LOAD_REAL_REDIS_URL", "redis://127.0.0.1:6379/12"),
    )


def procfile_line(name: str) -> str:
    """The Procfile's command for `name`: the bench runs what production runs."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"no {name!r} in the Procfile")


def environment(send_rate: str) -> dict[str, str]:
    """Real mode's environment for every process of the target (ports come later)."""
    database, redis_url = settings()
    env = process_env(
        {
            **real_mode_keys("load_real"),
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_URL": redis_url,
            "CLEAVE_MODE": "real",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CLEAVE_MESSAGING_SEND_RATE": send_rate,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    env.pop("CLEAVE_VAR_DIR", None)  # the worktree's var/, as `make procfile` runs
    return env


def prepare(env: dict[str, str]) -> tuple[str, str]:
    """A fresh database (migrated), a flushed Redis database and a staff account; returns the
    staff's (email, password)."""
    import psycopg
    import redis

    database, redis_url = settings()
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres", autocommit=True) as db:
        # psycopg types a query as a literal string; the name is this bench's own setting.
        db.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')  # type: ignore[arg-type]
        db.execute(f'CREATE DATABASE "{database}"')  # type: ignore[arg-type]
    redis.Redis.from_url(redis_url).flushdb()
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    password = secrets.token_urlsafe(18)
    staff_env = {
        **env,
        "DJANGO_SUPERUSER_EMAIL": STAFF_EMAIL,
        "DJANGO_SUPERUSER_PASSWORD": password,
    }
    subprocess.run([*manage, "createsuperuser", "--no-input"], cwd=ROOT, env=staff_env, check=True)
    return STAFF_EMAIL, password


@contextmanager
def real(send_rate: str) -> Iterator[Target]:
    """The Procfile's web, realtime, worker and events; logs in var/load/real-<name>.log."""
    LOGS.mkdir(parents=True, exist_ok=True)
    env = environment(send_rate)
    staff = prepare(env)
    web, realtime = free_port(), free_port()
    env |= {
        "HOST": "127.0.0.1",
        "WEB_PORT": str(web),
        "REALTIME_PORT": str(realtime),
        "WORKER_METRICS_PORT": str(free_port()),
        "EVENTS_METRICS_PORT": str(free_port()),
    }
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in PROCESSES:
            with (LOGS / f"real-{name}.log").open("wb") as log:
                processes[name] = subprocess.Popen(  # noqa: S602 - the Procfile's own line
                    procfile_line(name),
                    shell=True,
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group, for the CPU figures
                )
        wait_until_serving(f"http://127.0.0.1:{web}/healthz", process=processes["web"], timeout=60)
        wait_until_serving(
            f"http://127.0.0.1:{realtime}/healthz", process=processes["realtime"], timeout=60
        )
        database, _ = settings()
        yield Target(
            "cleave-real",
            f"http://127.0.0.1:{web}",
            f"ws://127.0.0.1:{realtime}/ws/v1",
            {name: process.pid for name, process in processes.items()},
            uses_shared_servers=True,
            database_marker=database,
            driver=CleaveDriver(staff=staff),
        )
    finally:
        for process in processes.values():
            stop_group(process)


def stop_group(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    """End a process this bench started and the children it forked (its own group)."""
    stop_process_group(process, timeout=timeout)
