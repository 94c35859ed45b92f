"""payments' fixtures: the test provider in process, the fake Stripe server as a process, a
receiver for the webhooks it sends, and signed-in API clients."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from apps.payments.services import gateway
from cleave.testing.processes import free_port
from cleave.testing.servers import running_server

SECRET_KEY = "sk_test_fake_server_key"
WEBHOOK_SECRET = "whsec_fake_server_secret"


@pytest.fixture
def test_provider(settings: Any) -> Iterator[None]:
    """A fresh in-process test provider (the simulator) for this test."""
    settings.CLEAVE_PAYMENTS_PROVIDER = "test"
    gateway._build.cache_clear()
    yield
    gateway._build.cache_clear()


@dataclass
class FakeServer:
    base: str

    def control(self, **orders: Any) -> None:
        self._post("/_control", orders)

    def reset(self) -> None:
        self._post("/_reset", {})

    def flush_webhooks(self) -> None:
        self._post("/_webhooks/flush", {})

    def inspect(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.base}/_inspect", timeout=5) as response:  # noqa: S310 - loopback
            return dict(json.loads(response.read()))

    def _post(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.base + path, data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
            pass


@pytest.fixture(scope="session")
def fake_server_process() -> Iterator[FakeServer]:
    port = free_port()
    command = ["python", "-m", "apps.payments.testing.fake_stripe", "--port", str(port)]
    env = {"FAKE_STRIPE_SECRET_KEY": SECRET_KEY, "FAKE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    import sys

    command[0] = sys.executable
    with running_server(command, port=port, env=env, ready_path="/_health") as base:
        yield FakeServer(base)


@pytest.fixture
def fake_server(fake_server_process: FakeServer, settings: Any) -> Iterator[FakeServer]:
    """The fake Stripe server, reset, with payments pointed at it (short timeouts: the tests
    make it hang on purpose)."""
    fake_server_process.reset()
    settings.CLEAVE_PAYMENTS_PROVIDER = "stripe"
    settings.CLEAVE_STRIPE_API_BASE = fake_server_process.base
    settings.CLEAVE_STRIPE_SECRET_KEY = SECRET_KEY
    settings.CLEAVE_STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.CLEAVE_STRIPE_TIMEOUT_SECONDS = 1.5
    settings.CLEAVE_STRIPE_MAX_RETRIES = 2
    gateway._build.cache_clear()
    yield fake_server_process
    fake_server_process.reset()
    gateway._build.cache_clear()


@dataclass
class Receiver:
    """Collects the webhooks the fake server POSTs (body, Stripe-Signature), in arrival order."""

    url: str
    received: list[tuple[bytes, str]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    port = free_port()
    box = Receiver(url=f"http://127.0.0.1:{port}/hook")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box.received.append((body, self.headers.get("Stripe-Signature", "")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()
