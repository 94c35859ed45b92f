"""A mobile client's socket for fault tests: reconnects on its own and resumes from the last
`seq`/`epoch` it saw, recording every message frame and every `resync_required`."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field

from websockets.exceptions import WebSocketException
from websockets.sync.client import ClientConnection, connect


@dataclass
class Seen:
    messages: dict[int, float] = field(default_factory=dict)  # message id → when received
    resyncs: list[tuple[float, dict]] = field(default_factory=list)
    acks: list[dict] = field(default_factory=list)
    connects: int = 0
    drops: int = 0


class ResumingSocket(threading.Thread):
    def __init__(self, realtime: str, token: str, stream: str) -> None:
        super().__init__(daemon=True)
        self.url = realtime.replace("http://", "ws://") + "/ws/v1"
        self.token, self.stream = token, stream
        self.position: dict[str, object] | None = None  # {"seq", "epoch"} last seen
        self.seen = Seen()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                with connect(
                    self.url,
                    additional_headers={"Authorization": f"Bearer {self.token}"},
                    open_timeout=3,
                ) as socket:
                    self._session(socket)
            except (OSError, TimeoutError, WebSocketException):
                self.seen.drops += 1
            self.stopping.wait(0.5)

    def _session(self, socket: ClientConnection) -> None:
        ready = json.loads(socket.recv(timeout=5))
        if ready.get("type") != "ready":
            return
        self.seen.connects += 1
        if self.position is not None:
            socket.send(json.dumps({"type": "resume", "id": "r", "streams": {
                self.stream: self.position}}))  # fmt: skip
        while not self.stopping.is_set():
            try:
                raw = socket.recv(timeout=1)
            except TimeoutError:
                continue
            self._on(json.loads(raw))

    def _on(self, frame: dict) -> None:
        kind = frame.get("type")
        if kind == "event" and frame.get("stream") == self.stream:
            self.position = {"seq": frame["seq"], "epoch": frame["epoch"]}
            if frame.get("event") == "message.sent":
                self.seen.messages.setdefault(frame["data"]["id"], time.time())
        elif kind == "resync_required" and frame.get("stream") == self.stream:
            # The client refetches the stream over REST, then carries on from here.
            self.seen.resyncs.append((time.time(), frame))
            self.position = {"seq": frame["seq"], "epoch": frame["epoch"]}
        elif kind == "ack":
            self.seen.acks.append(frame)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=15)
