"""Real servers for tests and benchmarks: the entry points as the Procfile runs them, started
in subprocesses (or a threaded WSGI server in this process) and waited for."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from cleave.server_limits import WS_MAX_BYTES
from cleave.testing.processes import (
    BIN,
    ROOT,
    process_env,
    stop_process_group,
    wait_until_serving,
)


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
        list(command),
        cwd=ROOT,
        env=process_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: stopping it stops its workers too
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
        stop_process_group(process, timeout=10)
        log.close()


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
        def log_message(self, format: str, *args: object) -> None:
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
