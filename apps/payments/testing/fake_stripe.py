"""A fake Stripe server: the simulator (`apps.payments.gateways.simulator`) over HTTP, plus what
a test or a benchmark needs to make the provider misbehave and to count what it did.

    python -m apps.payments.testing.fake_stripe --port 42500
    env: FAKE_STRIPE_SECRET_KEY (sk_test_…), FAKE_STRIPE_WEBHOOK_SECRET (whsec_…),
         FAKE_STRIPE_WEBHOOK_URL (where to POST signed webhooks; none: keep them)

The API (`/v1/payment_intents…`, `/v1/refunds`) is the simulator's. Beside it:

    GET  /_health            200 once serving
    GET  /_inspect           {"captures": {key: n}, "refunds": {key: n}, "intents": {id: status},
                              "webhooks": [{"id", "type", "status"}…] (deliveries so far)}
    POST /_control           JSON, any of:
         decline: bool          every confirmation declined (card_declined)
         timeouts: n            the next n requests are performed, then never answered
         hang_seconds: s        how long an unanswered request holds the connection (30)
         slow_seconds: s        every answer this late
         answer_twice: n        the next n requests are received twice (the second replays)
         down_seconds: s        connections closed unanswered for s seconds
         webhook_url: url       where webhooks go
         webhook_mode: normal | late | duplicate | out_of_order | off
         webhook_delay: s       how late `late` webhooks are (2)
    POST /_webhooks/flush    send the webhooks `out_of_order` held, newest first
    POST /_reset             forget everything (intents, keys, counts, faults)
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from apps.payments.gateways.simulator import StripeSimulator
from apps.payments.gateways.wire import Answer


def signature_header(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """Stripe's `Stripe-Signature`: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">, signed
    here with the standard library so that the stripe package's verifier is checked against an
    independent signer."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


class FakeStripe:
    def __init__(self, *, secret_key: str, webhook_secret: str, webhook_url: str = "") -> None:
        self.secret_key = secret_key
        self.webhook_secret = webhook_secret
        self.simulator = StripeSimulator(secret_key=secret_key)
        self.webhook_url = webhook_url
        self.webhook_mode = "normal"
        self.webhook_delay = 2.0
        self.hang_seconds = 30.0
        self.deliveries: list[dict[str, Any]] = []
        self._scheduled: list[tuple[float, dict[str, Any]]] = []
        self._held: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.simulator = StripeSimulator(secret_key=self.secret_key)
            self.webhook_mode, self.webhook_delay, self.hang_seconds = "normal", 2.0, 30.0
            self.deliveries, self._scheduled, self._held = [], [], []

    def control(self, orders: dict[str, Any]) -> None:
        faults = self.simulator.faults
        for name in ("decline", "timeouts", "slow_seconds", "answer_twice"):
            if name in orders:
                setattr(faults, name, type(getattr(faults, name))(orders[name]))
        if "down_seconds" in orders:
            faults.down_until = time.time() + float(orders["down_seconds"])
        self.hang_seconds = float(orders.get("hang_seconds", self.hang_seconds))
        self.webhook_url = str(orders.get("webhook_url", self.webhook_url))
        self.webhook_mode = str(orders.get("webhook_mode", self.webhook_mode))
        self.webhook_delay = float(orders.get("webhook_delay", self.webhook_delay))

    def inspect(self) -> dict[str, Any]:
        counts = self.simulator.counts()
        return {
            "captures": counts["capture"],
            "refunds": counts["refund"],
            "intents": {key: i["status"] for key, i in self.simulator.intents.items()},
            "webhooks": list(self.deliveries),
        }

    # --- webhooks ----------------------------------------------------------------------------

    def pump(self) -> None:
        """Move new events to their schedule by mode, then send whatever is due."""
        now = time.time()
        with self._lock:
            for event in self.simulator.drain_events():
                mode = self.webhook_mode
                if mode == "off":
                    continue
                if mode == "out_of_order":
                    self._held.append(event)
                elif mode == "late":
                    self._scheduled.append((now + self.webhook_delay, event))
                else:
                    copies = 2 if mode == "duplicate" else 1
                    self._scheduled.extend((now, event) for _ in range(copies))
            due = [event for at, event in self._scheduled if at <= now]
            self._scheduled = [(at, event) for at, event in self._scheduled if at > now]
        for event in due:
            self._send(event)

    def flush(self) -> None:
        self.pump()  # events the pump has not picked up yet are held first, then all sent
        with self._lock:
            held, self._held = self._held, []
        for event in reversed(held):
            self._send(event)

    def _send(self, event: dict[str, Any]) -> None:
        if not self.webhook_url:
            return
        payload = json.dumps(event)
        request = urllib.request.Request(  # noqa: S310 - the URL the test configured
            self.webhook_url,
            data=payload.encode(),
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": signature_header(payload, self.webhook_secret),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as error:
            status = error.code
        except (urllib.error.URLError, OSError):
            status = 0
        self.deliveries.append({"id": event["id"], "type": event["type"], "status": status})


def handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body leave in two writes: without this, Nagle's algorithm meets the
            # client's delayed ACK and every answer waits ~40 ms, as no real server's does.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            if self.path == "/_health":
                self._json(200, {"ok": True})
            elif self.path == "/_inspect":
                self._json(200, fake.inspect())
            else:
                self._api("GET")

        def do_POST(self) -> None:
            if self.path == "/_control":
                fake.control(json.loads(self._body() or b"{}"))
                self._json(200, {"ok": True})
            elif self.path == "/_webhooks/flush":
                fake.flush()
                self._json(200, {"ok": True})
            elif self.path == "/_reset":
                fake.reset()
                self._json(200, {"ok": True})
            else:
                self._api("POST")

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _api(self, method: str) -> None:
            body = self._body() if method == "POST" else b""
            faults = fake.simulator.faults
            if faults.down_until > time.time():
                self.close_connection = True  # a refused answer: nothing is sent back
                return
            if faults.slow_seconds:
                time.sleep(faults.slow_seconds)
            headers = {name.lower(): value for name, value in self.headers.items()}
            answer = fake.simulator.handle(method, self.path, headers, body)
            if faults.take("answer_twice"):
                answer = fake.simulator.handle(method, self.path, headers, body)
            if faults.take("timeouts"):
                time.sleep(fake.hang_seconds)  # performed, but the client gives up first
                self.close_connection = True
                return
            self._answer(answer)

        def _answer(self, answer: Answer) -> None:
            data = answer.encoded()
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{time.monotonic_ns()}")
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._answer(Answer(status, body))

    return Handler


def serve(port: int, fake: FakeStripe) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(fake))
    server.daemon_threads = True

    def pump_forever() -> None:
        while True:
            fake.pump()
            time.sleep(0.05)

    threading.Thread(target=pump_forever, daemon=True).start()
    server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    fake = FakeStripe(
        secret_key=os.environ.get("FAKE_STRIPE_SECRET_KEY", "sk_test_fake"),
        webhook_secret=os.environ.get("FAKE_STRIPE_WEBHOOK_SECRET", "whsec_fake"),
        webhook_url=os.environ.get("FAKE_STRIPE_WEBHOOK_URL", ""),
    )
    serve(args.port, fake)


if __name__ == "__main__":
    main()
