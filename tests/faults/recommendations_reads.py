"""What recommendations' fault tests share: reads on a timer from a thread, each answer kept
with when it began and ended, the short cache lifetimes that make reads reach the stores, and
seeding the read models from a process with the real settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.faults.components import run_python
from tests.faults.probes import Answer, call

# A list is fresh 1 s then served stale 1 s (the memory layer keeps it 1 s), and an open breaker
# lets a request try again after 2 s: a few seconds into an outage every read needs the stores.
SHORT_CACHE = {
    "CLEAVE_RECOMMENDATIONS_FRESH_SECONDS": "1",
    "CLEAVE_RECOMMENDATIONS_GRACE_SECONDS": "1",
    "CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS": "1",
    "CLEAVE_RECOMMENDATIONS_BREAKER_RESET_SECONDS": "2",
}


@dataclass
class Read:
    path: str
    token: str | None
    answer: Answer
    started: float  # monotonic
    ended: float

    @property
    def personal(self) -> bool:
        return self.token is not None

    @property
    def degraded(self) -> bool | None:
        body = self.answer.body
        return body.get("degraded") if isinstance(body, dict) else None

    @property
    def variant(self) -> str | None:
        body = self.answer.body
        return body.get("variant") if isinstance(body, dict) else None

    def show_ids(self) -> list[int]:
        body = self.answer.body
        return [item["show_id"] for item in body.get("items", [])] if isinstance(body, dict) else []


class Reader(threading.Thread):
    """Reads each path in turn every `interval` seconds until stopped, recording every answer."""

    def __init__(self, base: str, paths: list[tuple[str, str | None]], interval: float) -> None:
        super().__init__(daemon=True)
        self.base, self.paths, self.interval = base, paths, interval
        self.reads: list[Read] = []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            for path, token in self.paths:
                started = time.monotonic()
                answer = call(self.base, "GET", path, token=token)
                self.reads.append(Read(path, token, answer, started, time.monotonic()))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)

    def seen_since(self, moment: float, condition: Any) -> bool:
        """Whether a read begun after `moment` satisfies `condition`."""
        return any(r.started > moment and condition(r) for r in list(self.reads))


def wait_for_read(reader: Reader, moment: float, condition: Any, timeout: float = 30) -> float:
    """Seconds from `moment` until a read begun after it satisfies `condition` (or `timeout`)."""
    while time.monotonic() < moment + timeout and not reader.seen_since(moment, condition):
        time.sleep(0.2)
    return time.monotonic() - moment


def seed(env: Mapping[str, str], *args: str) -> dict[str, Any]:
    """tests.faults.recommendations_seed's shows (`5001`) and tickets (`<user>:<show>`)."""
    output = run_python(env, "tests.faults.recommendations_seed", *args)
    return dict(json.loads(output.strip().splitlines()[-1]))
