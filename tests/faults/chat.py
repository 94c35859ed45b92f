"""Chat traffic for fault tests: two accounts, a conversation, messages sent on a timer from a
thread, every answer recorded (status, envelope code, duration)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from tests.faults.components import manage
from tests.faults.probes import Answer, call, signed_in


@dataclass
class Sent:
    client_msg_id: str
    answer: Answer
    at: float  # wall clock when the answer came (comparable with the server's timestamps)


@dataclass
class Chat:
    base: str
    sender: dict
    recipient: dict
    conversation_id: int
    sent: list[Sent] = field(default_factory=list)

    @classmethod
    def open(cls, base: str, env: Mapping[str, str]) -> Chat:
        """Two new accounts (registered over HTTP, their addresses vouched for with
        `manage.py users_verify` in the stack's environment: real mode lets only verified
        accounts chat) and their direct conversation."""
        ada, bob = signed_in(base, 1), signed_in(base, 2)
        manage(env, "users_verify", ada["user"]["email"], bob["user"]["email"])
        body = {"kind": "direct", "members": [bob["user"]["id"]]}
        created = call(base, "POST", "/api/v1/conversations", body, ada["access"])
        assert created.status == 201, created
        return cls(base, ada, bob, created.body["id"])

    def send(self, client_msg_id: str) -> Sent:
        path = f"/api/v1/conversations/{self.conversation_id}/messages"
        body = {"text": f"text {client_msg_id}", "client_msg_id": client_msg_id}
        answer = call(self.base, "POST", path, body, self.sender["access"])
        sent = Sent(client_msg_id, answer, time.time())
        self.sent.append(sent)
        return sent

    def failed(self) -> list[Sent]:
        """Sends whose last attempt did not succeed (a client would retry these)."""
        last: dict[str, Sent] = {}
        for sent in self.sent:
            last[sent.client_msg_id] = sent
        return [s for s in last.values() if s.answer.status not in (200, 201)]


class Traffic(threading.Thread):
    """Sends a message every `interval` seconds until stopped."""

    def __init__(self, chat: Chat, *, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.chat, self.interval = chat, interval
        self.stopping = threading.Event()
        self.count = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            self.count += 1
            self.chat.send(f"t{self.count}")
            self.stopping.wait(self.interval)

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


def summary(sent: list[Sent]) -> dict[str, object]:
    """Counts by outcome and the slowest answer."""
    outcomes: dict[str, int] = {}
    for s in sent:
        key = str(s.answer.status) + (f":{s.answer.code}" if s.answer.code else "")
        if s.answer.status == 0:
            key = "no-answer:" + s.answer.error.split(":")[0]
        outcomes[key] = outcomes.get(key, 0) + 1
    slowest = max((s.answer.seconds for s in sent), default=0.0)
    return {"requests": len(sent), "outcomes": outcomes, "slowest_s": round(slowest, 2)}
