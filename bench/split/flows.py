"""The main mobile flows, timed through the gateway with the black-box suite's own clients.

Only HTTP and WebSockets cross the line, as in tests/e2e/blackbox (whose `client` and `ws`
helpers this reuses). Every step is timed from just before the request to just after its
response, or, for a message, to the moment the other user's socket has the frame.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e" / "blackbox"))

import ws  # noqa: E402 - the black-box suite's helpers, path set above
from client import Api, User, expect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402
from websockets.sync.client import ClientConnection  # noqa: E402

# Identity's per-IP limits (apps/identity/throttles.py), all from this one loopback address:
# 10 registrations an hour, 20 logins and 60 refreshes a minute. `make split`-style starts
# flush the topology's Redis, so each topology gets the whole budget.
STRANGERS = 6  # + alice and bob = 8 registrations
LOGINS = 15  # + 2 warm-up logins = 17
REFRESHES = 50  # + 2 warm-up refreshes = 52
WARMUP = 2
# A pause after each timed request: the gateway allows 200 requests/s per IP (burst 400), and
# back-to-back requests would also measure queueing behind the previous one's after-work.
PACE_SECONDS = 0.01
DELIVERY_TIMEOUT = 10.0

Samples = dict[str, list[float]]


@dataclass(frozen=True)
class Cast:
    """The accounts of one run: alice acts, bob receives, strangers get new conversations."""

    alice: User
    bob: User
    strangers: list[User]


def connect(base_url: str) -> tuple[Api, str]:
    """An API client for the gateway, and the WebSocket URL the deployment advertises."""
    api = Api.connect(base_url)
    return api, str(expect(api.get("/api/v1/meta"), 200)["websocket_url"])


def register_cast(api: Api, admin_env: Path) -> Cast:
    """The accounts of the flows; the topology's staff account (`admin_env`, written by
    cleave_deploy.split) vouches for their addresses: real mode lets only verified accounts chat."""
    values = dict(line.split("=", 1) for line in admin_env.read_text().split())
    staff = api.as_(
        api.login(values["CLEAVE_E2E_ADMIN_EMAIL"], values["CLEAVE_E2E_ADMIN_PASSWORD"])
    )
    return Cast(
        alice=api.register("alice", vouched_by=staff),
        bob=api.register("bob", vouched_by=staff),
        strangers=[api.register(f"stranger{n}", vouched_by=staff) for n in range(STRANGERS)],
    )


class Inbox:
    """Reads a socket on its own thread and notes when each `message.sent` frame arrived, so
    the delivery time does not wait for the sender's HTTP response to be read first."""

    def __init__(self, conn: ClientConnection) -> None:
        self._conn = conn
        self._arrived: dict[int, float] = {}
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> Inbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._conn.recv(timeout=0.2)
            except TimeoutError:
                continue
            except ConnectionClosed:
                return
            at = time.perf_counter()
            frame = json.loads(raw)
            if frame.get("type") == "event" and frame.get("event") == "message.sent":
                with self._changed:
                    self._arrived[int(frame["data"]["id"])] = at
                    self._changed.notify_all()

    def arrival(self, message_id: int) -> float:
        """When the frame of `message_id` arrived (perf_counter); waits for it."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: message_id in self._arrived, timeout=DELIVERY_TIMEOUT
            ):
                raise TimeoutError(f"message {message_id} never reached the socket")
            return self._arrived[message_id]


def _timed(samples: list[float], call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    result = call()
    samples.append(time.perf_counter() - started)
    time.sleep(PACE_SECONDS)
    return result


def _repeat(samples: Samples, name: str, count: int, call: Callable[[], Any]) -> None:
    """`WARMUP` untimed calls, then `count` timed ones recorded under `name`."""
    for _ in range(WARMUP):
        call()
    mine = samples.setdefault(name, [])
    for _ in range(count):
        _timed(mine, call)


def measure(api: Api, cast: Cast, websocket_url: str, *, iterations: int) -> Samples:
    """Every step, each `iterations` times (fewer where identity's limits say so)."""
    samples: Samples = {}
    alice = api.as_(cast.alice)
    _sessions(api, cast, samples)
    _repeat(samples, "GET /api/v1/me", iterations, lambda: expect(alice.get("/api/v1/me"), 200))
    with ws.socket(websocket_url, cast.bob.access) as bob_socket:
        conversation = _conversations(api, cast, samples, iterations)
        with Inbox(bob_socket) as inbox:
            _messages(alice, inbox, conversation, samples, iterations)
    _repeat(
        samples,
        "GET /api/v1/conversations",
        iterations,
        lambda: expect(alice.get("/api/v1/conversations"), 200),
    )
    _repeat(
        samples, "GET /api/v1/flags", iterations, lambda: expect(alice.get("/api/v1/flags"), 200)
    )
    return samples


def _sessions(api: Api, cast: Cast, samples: Samples) -> None:
    """Logins (a new device each), then one session's refresh token rotated again and again."""
    latest: list[User] = []
    _repeat(
        samples,
        "POST /auth/login (Argon2id)",
        LOGINS,
        lambda: latest.append(api.login(cast.alice.email, cast.alice.password, label="bench")),
    )
    refresh = [latest[-1].refresh]

    def rotate() -> None:
        tokens = expect(api.post("/api/v1/auth/refresh", {"refresh": refresh[0]}), 200)
        refresh[0] = tokens["refresh"]

    _repeat(samples, "POST /auth/refresh", REFRESHES, rotate)


def _conversations(api: Api, cast: Cast, samples: Samples, iterations: int) -> int:
    """New direct conversations (201) with the strangers, then alice–bob's again and again
    (200: it exists); both ask identity about the members. Returns alice–bob's id."""
    alice = api.as_(cast.alice)

    def open_with(user: User, status: int) -> int:
        body = {"kind": "direct", "members": [user.id]}
        return int(expect(alice.post("/api/v1/conversations", body), status)["id"])

    conversation = open_with(cast.bob, 201)  # bob's socket is now following it
    new = samples.setdefault("POST /conversations (new direct)", [])
    for stranger in cast.strangers:
        _timed(new, lambda stranger=stranger: open_with(stranger, 201))
    _repeat(
        samples,
        "POST /conversations (existing direct)",
        iterations,
        lambda: open_with(cast.bob, 200),
    )
    return conversation


def _messages(
    alice: Api, inbox: Inbox, conversation: int, samples: Samples, iterations: int
) -> None:
    """A message over REST: its response time, and the time until bob's socket has it."""
    rest = samples.setdefault("POST /messages (REST response)", [])
    delivered = samples.setdefault("message → other user's socket", [])
    for n in range(WARMUP + iterations):
        started = time.perf_counter()
        sent = alice.send(conversation, f"bench {n}")
        answered = time.perf_counter()
        arrived = inbox.arrival(int(sent["id"]))
        if n >= WARMUP:
            rest.append(answered - started)
            delivered.append(arrived - started)
        time.sleep(PACE_SECONDS)
