"""Processes for tests and benchmarks: ports, environments, keys, waiting and stopping."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
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


def stop_process(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Ask a process to stop; kill it if it has not within `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_process_group(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """Stop a process started with `start_new_session=True` and every process of its group: a
    server's workers outlive a main process that is killed (granian's, when its shutdown passed
    `timeout`), and an idle server left running takes a port and memory until the machine stops.
    SIGTERM to the group, SIGKILL to what is left of it after `timeout`."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    with contextlib.suppress(ProcessLookupError):  # workers left once their main has gone
        os.killpg(process.pid, signal.SIGKILL)


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


def real_mode_keys(name: str) -> dict[str, str]:
    """SECRET_KEY and encryption-at-rest keys for a real-mode benchmark or test process.

    Real mode refuses development keys whatever DEBUG says, so a script that starts real-mode
    processes brings its own: the environment's when set, else keys derived from `name`.
    Derived, not random: they belong with the benchmark's database, which outlives a checkout
    (keys kept in one clone's var/ left another clone, or CI's, unable to read a database
    the first had written). They guard synthetic benchmark data only; production keys come
    from the environment.
    """
    import base64
    import hashlib

    def derived(purpose: str) -> str:
        digest = hashlib.sha256(f"cleave benchmark keys/{name}/{purpose}".encode()).digest()
        return base64.b64encode(digest).decode()

    kept = {
        "SECRET_KEY": "bench-" + hashlib.sha256(f"cleave benchmark/{name}".encode()).hexdigest(),
        "CLEAVE_ENCRYPTION_KEYS": f"{name.replace('_', '-').lower()[:24]}:{derived('encryption')}",
        "CLEAVE_HASH_KEY": derived("hash"),
    }
    return {key: os.environ.get(key) or value for key, value in kept.items()}


def embedded_env(var_dir: Path) -> dict[str, str]:
    """Environment for a subprocess in embedded mode with its own, freshly migrated SQLite
    database under `var_dir` (whatever mode the test run itself is in)."""
    env = {"DATABASE_URL": "", "REDIS_URL": "", "CLEAVE_MODE": "", "CLEAVE_VAR_DIR": str(var_dir)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env=process_env(env),
        check=True,
        timeout=120,
    )
    return env
