"""Test helpers shared by every context: real servers and workers in subprocesses, waiting."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from cleave.server_limits import WS_MAX_BYTES

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A free loopback port: any (the kernel's choice), or one of `CLEAVE_TEST_PORTS`
    ("33000-33999") when set, so parallel runs on a shared machine keep to their own range."""
    span = os.environ.get("CLEAVE_TEST_PORTS")
    if not span:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    low, high = (int(part) for part in span.split("-"))
    for port in random.sample(range(low, high + 1), high - low + 1):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in CLEAVE_TEST_PORTS={span}")


def process_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment (so real mode stays real) plus `extra`."""
    env = dict(os.environ)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # let each entry point choose its own default
    env.update(extra or {})
    return env


def wait_until_serving(
    url: str, *, timeout: float = 20.0, process: subprocess.Popen | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before serving {url}")
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own loopback server
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    raise TimeoutError(f"nothing served {url} within {timeout}s")


@contextmanager
def running_server(
    command: Sequence[str],
    *,
    port: int,
    env: Mapping[str, str] | None = None,
    ready_path: str = "/healthz",
) -> Iterator[str]:
    """Start `command` (which must listen on `port`), wait for `ready_path`, yield its base URL."""
    (ROOT / "var").mkdir(exist_ok=True)
    log = (ROOT / "var" / f"server-{port}.log").open("w+b")
    process = subprocess.Popen(  # noqa: S603 - our own entry points
        list(command), cwd=ROOT, env=process_env(env), stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_serving(base + ready_path, process=process)
        except (RuntimeError, TimeoutError) as exc:
            log.seek(0)
            raise RuntimeError(
                f"{exc}\n--- server log ---\n{log.read().decode(errors='replace')[-4000:]}"
            ) from exc
        yield base
    finally:
        _stop(process, timeout=10)
        log.close()


def _stop(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Ask a process to stop; kill it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def embedded_server_command(port: int) -> list[str]:
    return [sys.executable, "manage.py", "serve", "--port", str(port)]


def realtime_server_command(port: int) -> list[str]:
    return [
        str(BIN / "uvicorn"),
        "cleave.asgi:application",
        "--port",
        str(port),
        "--lifespan",
        "off",
        "--no-access-log",
        "--ws-per-message-deflate",
        "false",
        "--ws-max-size",
        str(WS_MAX_BYTES),  # as the Procfile runs it
        "--backlog",
        "8192",
        "--log-level",
        "warning",  # as the Procfile runs it
    ]


def web_server_command(port: int, *, workers: int = 1, threads: int = 8) -> list[str]:
    return [
        str(BIN / "granian"),
        "--interface",
        "wsgi",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--no-ws",
        "cleave.wsgi:application",
    ]


def wait_for(
    condition: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.05
) -> object:
    """Poll `condition` until it returns something truthy; fail loudly after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition still false after {timeout}s: {condition}")
        time.sleep(interval)


@contextmanager
def celery_worker(
    *, queues: Sequence[str], env: Mapping[str, str] | None = None, timeout: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """A real Celery worker process (solo pool) consuming `queues`, stopped on exit."""
    (ROOT / "var").mkdir(exist_ok=True)
    log_path = ROOT / "var" / f"worker-{os.getpid()}.log"
    log = log_path.open("w+b")
    command = [
        str(BIN / "celery"), "-A", "cleave.celery", "worker", "--pool", "solo",
        "--queues", ",".join(queues), "--without-gossip", "--without-mingle",
        "--without-heartbeat", "--loglevel", "INFO", "--hostname", f"test-{os.getpid()}@%h",
    ]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603 - our own worker command
        command, cwd=ROOT, env=process_env(env), stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            lambda: b" ready." in log_path.read_bytes() or process.poll() is not None,
            timeout=timeout,
        )
        if process.poll() is not None:
            raise RuntimeError(f"worker exited: {log_path.read_text(errors='replace')[-4000:]}")
        yield process
    finally:
        _stop(process, timeout=15)
        log.close()


@contextmanager
def threaded_wsgi_server() -> Iterator[str]:
    """This process's Django WSGI app on a loopback port, served from a thread: real HTTP, with
    the test's settings (and overrides) and in-memory state visible to both ends."""
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from django.core.handlers.wsgi import WSGIHandler

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
            pass

    server = make_server(
        "127.0.0.1", 0, WSGIHandler(), server_class=Server, handler_class=QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def nginx_config_problem(nginx: str, conf: Path, prefix: Path) -> str | None:
    """What `nginx -t` says is wrong with `conf` (run from `prefix`), or None if it is valid."""
    result = subprocess.run(  # noqa: S603 - the machine's nginx on our own file
        [nginx, "-t", "-c", str(conf), "-p", str(prefix), "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        check=False,
    )
    return None if result.returncode == 0 else result.stderr


def clear_cache() -> None:
    """Empty the default cache between tests: all of LocMem, or only the cache's keys on Redis
    (it shares the server with the Celery broker; its keys carry the cache's KEY_PREFIX)."""
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        backend.clear()
        return
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "")
    if not prefix:
        raise RuntimeError("refusing to clear an unprefixed Redis cache: it holds the broker too")
    client = backend._cache.get_client(None, write=True)  # type: ignore[attr-defined]
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        client.delete(key)


def real_mode_keys(name: str) -> dict[str, str]:
    """SECRET_KEY and encryption-at-rest keys for a real-mode benchmark or test process.

    Real mode refuses development keys whatever DEBUG says, so a script that starts real-mode
    processes brings its own: the environment's when set, else keys made on the first run and
    kept in var/keys/<name>.json, so a database written by an earlier run still decrypts.
    """
    import json
    import secrets

    from cleave.crypto.keys import generate_key

    path = ROOT / "var" / "keys" / f"{name}.json"
    if path.exists():
        kept: dict[str, str] = json.loads(path.read_text())
    else:
        kept = {
            "SECRET_KEY": secrets.token_urlsafe(64),
            "CLEAVE_ENCRYPTION_KEYS": f"{name.replace('_', '-')[:24]}:{generate_key()}",
            "CLEAVE_HASH_KEY": generate_key(),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(kept))
        path.chmod(0o600)
    return {key: os.environ.get(key) or value for key, value in kept.items()}


def embedded_env(var_dir: Path) -> dict[str, str]:
    """Environment for a subprocess in embedded mode with its own, freshly migrated SQLite
    database under `var_dir` (whatever mode the test run itself is in)."""
    env = {"DATABASE_URL": "", "REDIS_URL": "", "CLEAVE_MODE": "", "CLEAVE_VAR_DIR": str(var_dir)}
    subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=process_env(env),
        check=True,
        timeout=120,
    )
    return env
