"""A context's streams and frames as a host serves them to a realtime process elsewhere: the
"probe" context, registered in this process and served at /internal/_realtime/ by
`realtime_probe_urls` (cleave.realtime.hosted), so a test can change its answers mid-way."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from cleave.auth.principal import Principal, current_principal
from cleave.contexts import Context, Realtime
from cleave.errors import CleaveError
from cleave.realtime import registry
from cleave.realtime.frames import AckFrame, ClientFrame

PROBE = Context(
    label="probe",
    app="x.probe",
    realtime=Realtime(stream_families=("pin", "pinf"), frame_types=("probe.echo",)),
)


class EchoFrame(ClientFrame):
    type: Literal["probe.echo"]
    text: str
    sleep_ms: int = 0


class EchoAck(AckFrame):
    text: str
    user_id: int | None  # whom the handler ran as


class EchoRefused(CleaveError):
    code = "probe.refused"
    status = 409
    message_template = "Refused."


class Host:
    """What the probe context answers, and how often it was asked."""

    def __init__(self) -> None:
        self.readers: dict[str, set[int]] = {}  # stream → users who may read it
        self.asked: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, question: str) -> None:
        with self._lock:
            self.asked[question] = self.asked.get(question, 0) + 1

    def initial_many(self, principals: list[Principal]) -> dict[int, list[str]]:
        self.count("initial")
        return {p.user_id: self.streams_of(p, "pin") for p in principals}

    def streams_of(self, principal: Principal, prefix: str) -> list[str]:
        return sorted(
            stream
            for stream, users in self.readers.items()
            if stream.startswith(f"{prefix}:") and principal.user_id in users
        )

    def readable(self, principal: Principal, streams: list[str]) -> set[str]:
        self.count("readable")
        return {s for s in streams if principal.user_id in self.readers.get(s, set())}

    def replay(
        self, principal: Principal, history: dict[str, registry.Entries]
    ) -> dict[str, list[str] | None]:
        """pinf's history: frames containing "secret" are withheld."""
        self.count("replay")
        allowed = self.readable(principal, list(history))
        return {
            stream: [f for _, f in entries if "secret" not in f] if stream in allowed else None
            for stream, entries in history.items()
        }

    def echo(self, principal: Principal, frame: EchoFrame) -> EchoAck:
        self.count("frame")
        time.sleep(frame.sleep_ms / 1000)
        if frame.text == "refuse":
            raise EchoRefused
        seen = current_principal.get()
        return EchoAck(text=frame.text, user_id=seen.user_id if seen else None)


host = Host()


@contextmanager
def hosted() -> Iterator[Host]:
    """The probe's families and frame type registered here for the test's length."""
    host.readers.clear()
    host.asked.clear()
    registry.register_streams(
        "pin", initial=lambda p: [], readable=host.readable, initial_many=host.initial_many
    )
    registry.register_streams(
        "pinf",
        initial=lambda p: host.streams_of(p, "pinf"),
        readable=host.readable,
        replay=host.replay,
    )
    registry.register_frame_handler(EchoFrame, host.echo, ack=EchoAck, errors=(EchoRefused,))
    try:
        yield host
    finally:
        for prefix in ("pin", "pinf"):
            registry.stream_families.pop(prefix, None)
        registry.frame_types.pop("probe.echo", None)
