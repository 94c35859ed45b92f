"""The black-box suite's fixtures: a Cleave to talk to, an admin, two users.

Against `CLEAVE_E2E_URL` when it is set (any deployment: the split topology behind nginx…);
otherwise this starts the monolith itself — `manage.py migrate`, `seed_demo`, `serve` in a temp
directory of its own — and stops it at the end. Only HTTP and WebSockets cross the line: this
suite imports nothing of the project (test_suite_isolation.py enforces it).

Budget: identity limits registrations to 10 an hour per client address, so a run registers
nine accounts (three in test_identity.py, two in test_social.py, one in test_purchase.py,
`alice`, `bob` and `erin` here).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from client import Api, User, expect

REPO = Path(__file__).resolve().parents[3]
START_TIMEOUT = 60.0
# seed_demo's admin; a deployment passes its own through the environment.
DEFAULT_ADMIN = ("admin@example.com", "cleave-demo")


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Shadows the repository's autouse fixture of this name: that one clears this process's
    Django cache (on Redis, when REDIS_URL is set: perhaps a deployment's). A black-box test
    shares no state with the server but what it sends."""


@pytest.fixture(scope="session")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    external = os.environ.get("CLEAVE_E2E_URL", "").rstrip("/")
    if external:
        yield external
        return
    with monolith(tmp_path_factory.mktemp("cleave-monolith")) as url:
        yield url


@pytest.fixture(scope="session")
def api(base_url: str) -> Iterator[Api]:
    client = Api.connect(base_url)
    yield client
    client.http.close()


@pytest.fixture(scope="session")
def websocket_url(api: Api) -> str:
    """Always what the deployment advertises, never built from the HTTP address."""
    meta = expect(api.get("/api/v1/meta"), 200)
    url = meta["websocket_url"]
    assert url.startswith(("ws://", "wss://")), meta
    return str(url)


@pytest.fixture(scope="session")
def admin_credentials() -> tuple[str, str]:
    """The staff account's e-mail address and password."""
    email = os.environ.get("CLEAVE_E2E_ADMIN_EMAIL", DEFAULT_ADMIN[0])
    password = os.environ.get("CLEAVE_E2E_ADMIN_PASSWORD", DEFAULT_ADMIN[1])
    return email, password


@pytest.fixture(scope="session")
def admin(api: Api, admin_credentials: tuple[str, str]) -> Api:
    """The API as a staff account (the ops API takes its bearer token)."""
    email, password = admin_credentials
    return api.as_(api.login(email, password, label="admin"))


@pytest.fixture(scope="session")
def alice(api: Api, admin: Api) -> User:
    """Receives messages only in test_notifications.py, so her inbox and badge are its own.
    Staff vouch for her address: a real-mode deployment lets only verified accounts chat."""
    return api.register("alice", vouched_by=admin)


@pytest.fixture(scope="session")
def bob(api: Api, admin: Api) -> User:
    return api.register("bob", vouched_by=admin)


@pytest.fixture(scope="session")
def erin(api: Api, admin: Api) -> User:
    """Joins conversations late and is removed from them (test_history_privacy.py)."""
    return api.register("erin", vouched_by=admin)


# -- the monolith, started here ----------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _embedded_env(var_dir: Path, port: int) -> dict[str, str]:
    """This environment, forced into embedded mode with the SQLite file under `var_dir`."""
    env = dict(os.environ)
    # pytest-django may have set the test settings here; the server picks its own.
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        DATABASE_URL="",
        REDIS_URL="",
        CLEAVE_MODE="embedded",
        CLEAVE_VAR_DIR=str(var_dir),
        CLEAVE_WEBSOCKET_URL="",
        HOST="127.0.0.1",
        PORT=str(port),
    )
    return env


def _manage(args: list[str], env: dict[str, str], log: Path) -> None:
    with log.open("ab") as out:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    if done.returncode != 0:
        pytest.fail(f"manage.py {' '.join(args)} failed:\n{_tail(log)}", pytrace=False)


def _tail(log: Path) -> str:
    return "--- server log ---\n" + log.read_text(errors="replace")[-4000:]


def _wait_until_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server exited with {process.returncode}:\n{_tail(log)}", pytrace=False
            )
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(
        f"{url}/healthz did not answer within {START_TIMEOUT}s:\n{_tail(log)}", pytrace=False
    )


@contextmanager
def monolith(var_dir: Path) -> Iterator[str]:
    """Migrate, seed and serve Cleave in embedded mode under `var_dir`; yield its base URL."""
    port = _free_port()
    env = _embedded_env(var_dir, port)
    log = var_dir / "server.log"
    _manage(["migrate", "--no-input", "-v", "0"], env, log)
    _manage(["seed_demo"], env, log)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(url, process, log)
        yield url
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
