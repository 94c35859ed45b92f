"""Cleave's own processes, started by a fault test against the stores it owns
(tests.faults.stores): the environment, `manage.py`, the Procfile's processes as a stack, and
`real_mode`, which brings up all of it and tears it down even when the test fails.
"""

from __future__ import annotations

import base64
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from cleave.testing.processes import BIN, ROOT, free_port
from tests.faults.stores import PortTaken, Postgres, Redis, postgres_cluster, redis_server

EVENTS_WORKER_ENV = {"CLEAVE_EVENTS_WORKER": "1"}  # what the Procfile's `events` line sets


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def cleave_env(pg: Postgres, redis: Redis, **extra: str) -> dict[str, str]:
    """Real mode against `pg` and `redis`, production-like: DEBUG off, strong keys."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "CLEAVE_", "PROMETHEUS_MULTIPROC"))
        and key not in {"REDIS_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG"}
    }
    env.update(
        CLEAVE_MODE="real",
        DATABASE_URL=pg.url(),
        REDIS_URL=redis.url(),
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CLEAVE_ENCRYPTION_KEYS=f"k1:{_key()}",
        CLEAVE_HASH_KEY=_key(),
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
        # The fault scenarios send bursts from one user; the send limit is not what they test.
        CLEAVE_MESSAGING_SEND_RATE="100000/s",
    )
    env.update(extra)
    return env


def manage(env: Mapping[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


def run_python(env: Mapping[str, str], module: str, *args: str, timeout: float = 300) -> str:
    """`python -m module args…` in a process with the real settings (e.g. a publisher)."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"{module} {' '.join(args)} failed:\n{result.stderr[-4000:]}")
    return result.stdout


class Process:
    """One of Cleave's processes (web, realtime, a worker, beat), logging to its own file."""

    def __init__(self, name: str, command: Sequence[str], env: Mapping[str, str], logs: Path):
        self.name = name
        self.command = list(command)
        self.env = dict(env)
        self.log_path = logs / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a kill reaches only this process group
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, no warning: the process cannot ack, restore or clean up anything."""
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=15)

    def stop(self, timeout: float = 15) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=15)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_until(self, ready: Callable[[], object], timeout: float = 40) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited:\n{self.log_text()[-4000:]}")
            if ready():
                return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready in {timeout}s:\n{self.log_text()[-4000:]}")


class Stack:
    """The processes of one test, stopped (all of them, in reverse) on exit."""

    def __init__(self, env: Mapping[str, str], logs: Path) -> None:
        self.env = dict(env)
        self.logs = logs
        self.processes: list[Process] = []

    def _add(self, name: str, command: Sequence[str], env: Mapping[str, str] | None) -> Process:
        process = Process(name, command, {**self.env, **(env or {})}, self.logs)
        self.processes.append(process)
        return process.start()

    def web(self, *, threads: int = 8, env: Mapping[str, str] | None = None) -> tuple[Process, str]:
        port = free_port()
        command = [
            str(BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1",
            "--port", str(port), "--workers", "1", "--blocking-threads", str(threads),
            "--no-ws", "cleave.wsgi:application",
        ]  # fmt: skip
        process = self._add(f"web-{port}", command, env)
        base = f"http://127.0.0.1:{port}"
        process.wait_until(lambda: _answers(base + "/healthz"))
        _still_alive(process)
        return process, base

    def realtime(self, *, env: Mapping[str, str] | None = None) -> tuple[Process, str]:
        port = free_port()
        command = [
            str(BIN / "uvicorn"), "cleave.asgi:application", "--host", "127.0.0.1",
            "--port", str(port), "--lifespan", "off", "--no-access-log",
            "--ws-per-message-deflate", "false",
        ]  # fmt: skip
        process = self._add(f"realtime-{port}", command, env)
        base = f"http://127.0.0.1:{port}"
        process.wait_until(lambda: _answers(base + "/healthz"))
        _still_alive(process)
        return process, base

    def worker(
        self, name: str, *, queues: Sequence[str], env: Mapping[str, str] | None = None
    ) -> Process:
        """A Celery worker as the Procfile's `events` process runs one: solo pool, in order
        (on `events.*` queues only it takes the events transport options, cleave.celery)."""
        command = [
            str(BIN / "celery"), "-A", "cleave.celery", "worker", "--pool", "solo",
            "--queues", ",".join(queues), "--without-gossip", "--without-mingle",
            "--without-heartbeat", "--loglevel", "INFO", "--hostname", f"{name}@faults",
        ]  # fmt: skip
        process = self._add(name, command, env)
        process.wait_until(lambda: " ready." in process.log_text())
        return process

    def beat(self) -> Process:
        schedule = self.logs / "celerybeat-schedule"
        command = [
            str(BIN / "celery"), "-A", "cleave.celery", "beat", "--loglevel", "INFO",
            "--schedule", str(schedule),
        ]  # fmt: skip
        process = self._add("beat", command, None)
        process.wait_until(lambda: "beat: Starting" in process.log_text())
        return process

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            with suppress(Exception):
                process.stop()

    def dump_logs(self, tail: int = 3000) -> str:
        return "\n".join(
            f"--- {p.name} ---\n{p.log_text()[-tail:]}" for p in self.processes if p.log_text()
        )


def _still_alive(process: Process) -> None:
    """A server that lost its port to another run exits at once; the answer came from that
    run's server. Fail loudly rather than test someone else's process."""
    time.sleep(1)
    if not process.alive():
        raise PortTaken(f"{process.name} exited; its port answered for another server")


def _answers(url: str) -> bool:
    import http.client
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback server
            return True
    # HTTPException: nothing listens yet and the client connected to itself (its ephemeral
    # source port equal to the target port: "BadStatusLine: GET /healthz HTTP/1.1").
    except (urllib.error.URLError, ConnectionError, TimeoutError, http.client.HTTPException):
        return False


@contextmanager
def cleave_stack(env: Mapping[str, str]) -> Iterator[Stack]:
    """Processes started through the yielded Stack are all stopped on exit; their logs are
    printed when the block fails, and deleted with their directory either way."""
    logs = Path(tempfile.mkdtemp(prefix="cleave-faults-logs-"))
    stack = Stack(env, logs)
    try:
        yield stack
    except BaseException:
        print(stack.dump_logs())  # noqa: T201 - the failing test's evidence
        raise
    finally:
        stack.stop_all()
        shutil.rmtree(logs, ignore_errors=True)


@contextmanager
def real_mode(*, persistent_redis: bool = False, **extra: str) -> Iterator[RealMode]:
    """A migrated PostgreSQL, a Redis, and the environment of Cleave processes using them."""
    with postgres_cluster() as pg, redis_server(persistent=persistent_redis) as redis:
        env = cleave_env(pg, redis, **extra)
        manage(env, "migrate", "--no-input", "-v", "0")
        with cleave_stack(env) as stack:
            yield RealMode(pg, redis, env, stack)


class RealMode:
    def __init__(self, pg: Postgres, redis: Redis, env: dict[str, str], stack: Stack) -> None:
        self.pg, self.redis, self.env, self.stack = pg, redis, env, stack

    def setting(self, expression: str, env: Mapping[str, str] | None = None) -> str:
        """The value of a Python expression over the real settings, as the processes see it
        (with `env` added: e.g. the events worker's)."""
        code = f"from django.conf import settings; print({expression})"
        output = manage({**self.env, **(env or {})}, "shell", "--no-imports", "-c", code)
        return output.strip().splitlines()[-1]
