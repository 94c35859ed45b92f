"""What typing the socket's frames costs on the send path, per message, in one process.

A `message.send` frame is parsed and checked against its model, its ack rendered from its
model, and the resulting event's data checked against its payload and rendered as an event
frame; compared with the plain-dict code it replaced (isinstance checks, json.dumps). No
database, Redis or sockets: only the frame work, which the fan-out does once per message
(not per socket). Usage: python bench/realtime/frames.py [--rounds 20000]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from cleave.realtime.frames import EventFrame, parse_frame, validated  # noqa: E402
from contracts.messaging.frames import MessageData, MessageSendAck, MessageSendFrame  # noqa: E402

FRAME = json.dumps(
    {"type": "message.send", "id": 7, "conversation_id": 12, "text": "hi " * 20,
     "client_msg_id": "a1b2c3d4"}
)  # fmt: skip
MESSAGE = {
    "id": 9001, "conversation_id": 12, "seq": 42, "sender_id": 4, "client_msg_id": "a1b2c3d4",
    "text": "hi " * 20, "created_at": "2026-12-06T07:00:00.123456+00:00", "edited_at": None,
    "deleted": False,
}  # fmt: skip


def typed() -> str:
    frame = validated(MessageSendFrame, parse_frame(FRAME, None))
    ack = MessageSendAck(message=MessageData.model_validate(MESSAGE), created=True)
    ack.model_copy(update={"id": frame.id}).render()
    MessageData.model_validate(MESSAGE, strict=True)  # push(): the event's declared payload
    event = EventFrame(stream="conv:12", seq=42, epoch="e", event="message.sent", data=MESSAGE)
    return event.render()


def plain() -> str:
    frame = parse_frame(FRAME, None)
    conversation_id, text, client_msg_id = (
        frame.get("conversation_id"),
        frame.get("text"),
        frame.get("client_msg_id"),
    )
    if not isinstance(conversation_id, int) or not isinstance(text, str):
        raise TypeError("conversation_id (int) and text (str) are required")
    if not isinstance(client_msg_id, str) or not 1 <= len(client_msg_id) <= 64:
        raise TypeError("client_msg_id: 1 to 64 characters")
    json.dumps({"type": "ack", "id": frame.get("id"), "message": MESSAGE, "created": True})
    event = {
        "type": "event", "stream": "conv:12", "seq": 42, "epoch": "e", "event": "message.sent",
        "data": MESSAGE,
    }  # fmt: skip
    return json.dumps(event, separators=(",", ":"))


def per_call_us(work: Callable[[], Any], rounds: int) -> float:
    """The median over 5 batches of `rounds` calls, in microseconds of this process's CPU time
    per call (CPU, not wall-clock: other processes on the machine do not count)."""
    batches = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(rounds):
            work()
        batches.append((time.process_time() - start) / rounds * 1e6)
    return statistics.median(batches)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds
    assert json.loads(typed()) == json.loads(plain())  # noqa: S101 - the same frame on the wire
    plain_us, typed_us = per_call_us(plain, rounds), per_call_us(typed, rounds)
    print(f"plain dicts: {plain_us:.1f} µs per message.send (parse, ack, event frame)")
    print(f"typed:       {typed_us:.1f} µs (+{typed_us - plain_us:.1f} µs)")


if __name__ == "__main__":
    main()
