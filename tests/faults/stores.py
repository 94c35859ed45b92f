"""The stores a fault test breaks, owned by the test: a PostgreSQL cluster and a Redis server.

Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379): every instance
lives in a temporary directory on a free port and is stopped and deleted on exit, even when the
test fails. PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres`
system user (`runuser`), in a directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from cleave.testing.processes import free_port, wait_for

PG_BIN = Path(os.environ.get("CLEAVE_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "cleave"  # the cluster's superuser (trust authentication on loopback only)
PG_DATABASE = "cleave"
_RUN_AS = "postgres" if os.geteuid() == 0 else None


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
