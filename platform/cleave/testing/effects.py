"""A tiny real HTTP service with side effects, for saga tests: it applies an effect once per
idempotency key (as a payment provider does), undoes it on request, and counts everything, so a
test can tell "exactly once", "compensated" and "compensated without an effect" apart.

    POST /effects/<kind>        Idempotency-Key: K   {"saga_id", "step", "decline"?}
    POST /compensations/<kind>  Idempotency-Key: K2  {"saga_id", "step", "effect_key": K}
    GET  /state                 what happened, per key and per (saga, step)
    POST /control               {"down": true|false}: answer 503 to everything else meanwhile

It runs in the test's process on a loopback port (threads), so workers in other processes reach
it as they would a real provider.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cleave.testing.processes import free_port


@dataclass
class EffectsLedger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    down: bool = False
    compensations_down: bool = False  # only compensations are answered 503
    # key -> "saga_id:step" of the effect applied under it
    effects: dict[str, str] = field(default_factory=dict)
    effect_requests: Counter[str] = field(default_factory=Counter)
    # "saga_id:step" -> effects applied (under any key): 2 would be a double effect
    applied: Counter[str] = field(default_factory=Counter)
    # "saga_id:step" -> compensation requests (repeats included)
    compensation_requests: Counter[str] = field(default_factory=Counter)
    # "saga_id:step" -> compensations that undid an effect
    undone: Counter[str] = field(default_factory=Counter)
    # "saga_id:step" -> compensation requests that found nothing to undo
    nothing_to_undo: Counter[str] = field(default_factory=Counter)
    refused_while_down: int = 0

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "effects": dict(self.effects),
                "effect_requests": dict(self.effect_requests),
                "applied": dict(self.applied),
                "compensation_requests": dict(self.compensation_requests),
                "undone": dict(self.undone),
                "nothing_to_undo": dict(self.nothing_to_undo),
                "refused_while_down": self.refused_while_down,
                "down": self.down,
            }


def _handler(ledger: EffectsLedger) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            if self.path == "/state":
                self._answer(200, ledger.snapshot())
            else:
                self._answer(404, {"error": "no such path"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/control":
                with ledger.lock:
                    ledger.down = bool(body.get("down"))
                self._answer(200, {"down": ledger.down})
                return
            key = self.headers.get("Idempotency-Key", "")
            if not key:
                self._answer(400, {"error": "an Idempotency-Key header is required"})
                return
            with ledger.lock:
                if ledger.down:
                    ledger.refused_while_down += 1
                    status, answer = 503, {"error": "down"}
                elif self.path.startswith("/effects/"):
                    status, answer = _effect(ledger, key, body)
                elif self.path.startswith("/compensations/") and ledger.compensations_down:
                    ledger.refused_while_down += 1
                    status, answer = 503, {"error": "down"}
                elif self.path.startswith("/compensations/"):
                    status, answer = _compensation(ledger, body)
                else:
                    status, answer = 404, {"error": "no such path"}
            self._answer(status, answer)

    return Handler


def _effect(ledger: EffectsLedger, key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    target = f"{body.get('saga_id')}:{body.get('step')}"
    ledger.effect_requests[key] += 1
    if body.get("decline"):
        return 402, {"error": "declined"}
    if key in ledger.effects:  # a repeated request: the first answer, no second effect
        if ledger.effects[key] != target:
            return 409, {"error": "idempotency key reused for another effect"}
        return 200, {"effect": key, "replayed": True}
    ledger.effects[key] = target
    ledger.applied[target] += 1
    return 200, {"effect": key, "replayed": False}


def _compensation(ledger: EffectsLedger, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    effect_key = str(body.get("effect_key", ""))
    target = f"{body.get('saga_id')}:{body.get('step')}"
    ledger.compensation_requests[target] += 1
    if effect_key not in ledger.effects:
        ledger.nothing_to_undo[target] += 1
        return 200, {"undone": False}
    if ledger.undone[target] == 0:
        ledger.undone[target] += 1
    return 200, {"undone": True}


@contextmanager
def effects_server() -> Iterator[tuple[str, EffectsLedger]]:
    """The fake on a free loopback port (CLEAVE_TEST_PORTS when set): (base URL, its ledger)."""
    ledger = EffectsLedger()
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _handler(ledger))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", ledger
    finally:
        server.shutdown()
        server.server_close()
