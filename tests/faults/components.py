"""The components a fault test breaks, owned by the test: a PostgreSQL cluster, a Redis server,
and Cleave's own processes started against them.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): every instance
lives in a temporary directory on a free port and is stopped and deleted on exit, even when the
test fails. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
system user (`runuser`), in a directory that user owns.
"""

from __future__ import annotations

import base64
import os
import pwd
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

from cleave.testing.processes import BIN, ROOT, free_port, wait_for

PG_BIN = Path(os.environ.get("CLEAVE_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "cleave"  # the cluster's superuser (trust authentication on loopback only)
PG_DATABASE = "cleave"
_RUN_AS = "postgres" if os.geteuid() == 0 else None
EVENTS_WORKER_ENV = {"CLEAVE_EVENTS_WORKER": "1"}  # what the Procfile's `events` line sets


def _as_cluster_user(command: Sequence[str]) -> list[str]:
    return ["runuser", "-u", _RUN_AS, "--", *command] if _RUN_AS else list(command)


def _own(path: Path) -> None:
    if _RUN_AS:
        user = pwd.getpwnam(_RUN_AS)
        for target in [path, *path.rglob("*")]:
            os.chown(target, user.pw_uid, user.pw_gid, follow_symlinks=False)


def temp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"cleave-faults-{prefix}-"))
    _own(path)
    return path


class Postgres:
    """A PostgreSQL cluster of its own on a free loopback port: stop, start, restart at will."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.log = root / "postgres.log"
        self.port = free_port()

    def url(self, database: str = PG_DATABASE) -> str:
        return f"postgres://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str, timeout: float = 60) -> None:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), *args]
        subprocess.run(_as_cluster_user(command), check=True, timeout=timeout, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-l", str(self.log), "-o", options, "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        """`fast` closes every connection (a restart as an operator does it); `immediate`
        drops them like a crash."""
        self._ctl("-m", mode, "-w", "-t", "30", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        result = subprocess.run(
            _as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]),
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0

    def query(
        self, sql: str, params: Sequence[object] = (), *, database: str = PG_DATABASE
    ) -> list[tuple]:
        """Run one statement on a database of the cluster (autocommit) and return its rows."""
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type] - test SQL, no user input
            return cursor.fetchall() if cursor.description else []

    def scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        return self.query(sql, params)[0][0]


def _initdb(data: Path) -> None:
    command = [
        str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust",
        "--encoding=UTF8", "--no-sync", "--no-instructions",
    ]  # fmt: skip
    subprocess.run(_as_cluster_user(command), check=True, timeout=120, capture_output=True)


@contextmanager
def postgres_cluster(template: Path | None = None) -> Iterator[Postgres]:
    """A running cluster with a `cleave` database; from a copy of `template` (a stopped,
    migrated cluster's data directory) when given, else freshly initialised and empty."""
    pg = Postgres(temp_dir("pg"))
    try:
        if template is not None:
            shutil.copytree(template, pg.data, symlinks=True)
            _own(pg.data)
            pg.data.chmod(0o700)
            pg.start()
        else:
            _initdb(pg.data)
            pg.start()
            pg.query(f"CREATE DATABASE {PG_DATABASE}", database="postgres")
        yield pg
    finally:
        with suppress(Exception):
            if pg.running():
                pg.stop("immediate")
        shutil.rmtree(pg.root, ignore_errors=True)


class Redis:
    """A Redis server of its own on a free loopback port.

    `persistent=False` (the default): nothing survives a restart, like a cache node replaced.
    `persistent=True`: an append-only file synced on every write, so a stop/start is an outage
    of a broker that keeps its queues — what "the broker was unreachable" means.
    """

    def __init__(self, root: Path, *, persistent: bool) -> None:
        self.root = root
        self.port = free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None
        self.log = root / "redis.log"

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--daemonize", "no",
            "--dir", str(self.root), "--logfile", str(self.log), *persistence,
        ]  # fmt: skip
        self.process = subprocess.Popen(command)
        wait_for(lambda: self.ping() or self.process.poll() is not None, timeout=15, interval=0.05)
        if not self.ours():
            # Another run's server took the port between free_port() and our bind: the ping
            # answered from it, and two runs sharing a broker consume each other's events (an
            # event "lost" from one test's database, applied in the other's).
            self.stop(kill=True)
            raise PortTaken(f"port {self.port} answered by another Redis")

    def ours(self) -> bool:
        """Whether the server on our port is this object's process (its working directory)."""
        import redis

        if self.process is None or self.process.poll() is not None:
            return False
        try:
            config = redis.Redis(port=self.port, socket_timeout=2).config_get("dir")
        except redis.RedisError:
            return False
        return Path(config.get("dir", "")).resolve() == self.root.resolve()

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self, *, kill: bool = False) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, *, kill: bool = False) -> None:
        self.stop(kill=kill)
        self.start()

    def client(self):
        import redis

        return redis.Redis(port=self.port, socket_timeout=5)


class PortTaken(RuntimeError):
    """A server we started found its port already taken by another run's server."""


@contextmanager
def redis_server(*, persistent: bool = False) -> Iterator[Redis]:
    server = Redis(Path(tempfile.mkdtemp(prefix="cleave-faults-redis-")), persistent=persistent)
    try:
        for attempt in range(5):  # a port race with a concurrent run: try another port
            try:
                server.start()
                break
            except PortTaken:
                if attempt == 4:
                    raise
                server.port = free_port()
        yield server
    finally:
        server.stop(kill=True)
        shutil.rmtree(server.root, ignore_errors=True)


# --- Cleave's processes -----------------------------------------------------------------------


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
