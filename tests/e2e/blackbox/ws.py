"""WebSocket helpers for the black-box suite: connect, authenticate, read frames with deadlines."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

Frame = dict[str, Any]
FRAME_TIMEOUT = 10.0


@contextmanager
def socket(url: str, token: str, *, auth: str = "header") -> Iterator[ClientConnection]:
    """A signed-in socket: the token in the handshake (`auth="header"`) or in a first
    `auth` frame (`auth="frame"`), the two ways docs/api.md allows. Waits for `ready`."""
    headers = {"Authorization": f"Bearer {token}"} if auth == "header" else None
    with connect(url, additional_headers=headers, open_timeout=FRAME_TIMEOUT) as conn:
        if auth == "frame":
            send(conn, {"type": "auth", "id": "auth-1", "token": token})
        ready = until(conn, lambda f: f["type"] in {"ready", "error"})
        assert ready["type"] == "ready", ready
        yield conn


def send(conn: ClientConnection, frame: Frame) -> None:
    conn.send(json.dumps(frame))


def receive(conn: ClientConnection, *, timeout: float = FRAME_TIMEOUT) -> Frame:
    raw = conn.recv(timeout=timeout)
    assert isinstance(raw, str), f"expected a text frame, got {raw!r}"
    frame = json.loads(raw)
    assert isinstance(frame, dict), frame
    return frame


def collect(
    conn: ClientConnection, last: Callable[[Frame], bool], *, timeout: float = FRAME_TIMEOUT
) -> list[Frame]:
    """Every frame received up to and including the first one `last` accepts."""
    deadline = time.monotonic() + timeout
    seen: list[Frame] = []
    while True:
        remaining = deadline - time.monotonic()
        try:
            frame = receive(conn, timeout=max(remaining, 0.01))
        except TimeoutError:
            kinds = [(f["type"], f.get("event"), f.get("stream"), f.get("seq")) for f in seen]
            raise AssertionError(f"no matching frame within {timeout}s; saw {kinds}") from None
        seen.append(frame)
        if last(frame):
            return seen


def until(
    conn: ClientConnection, match: Callable[[Frame], bool], *, timeout: float = FRAME_TIMEOUT
) -> Frame:
    """The first frame `match` accepts (others are skipped)."""
    return collect(conn, match, timeout=timeout)[-1]


def event(name: str, stream: str | None = None) -> Callable[[Frame], bool]:
    """Matches `{"type": "event", "event": name}` frames, on `stream` if given."""

    def match(frame: Frame) -> bool:
        return (
            frame["type"] == "event"
            and frame.get("event") == name
            and (stream is None or frame.get("stream") == stream)
        )

    return match


def close_code(conn: ClientConnection, *, timeout: float = 15.0) -> int | None:
    """Read (and drop) frames until the server closes the socket; its close code."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn.recv(timeout=max(deadline - time.monotonic(), 0.01))
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd is not None else None
        except TimeoutError:
            break
    raise AssertionError(f"the server did not close the socket within {timeout}s")


def drain(conn: ClientConnection, *, seconds: float) -> list[Frame]:
    """Every frame that arrives within `seconds` (nothing more expected: a quiet socket)."""
    deadline = time.monotonic() + seconds
    frames: list[Frame] = []
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            frames.append(receive(conn, timeout=remaining))
        except TimeoutError:
            break
    return frames
