"""Scenario 2: Redis restarts during chat traffic.

`web` and `realtime` run against the test's own Redis (no persistence: a restart loses the
streams, as replacing a cache node does). One account sends messages over REST on a timer while
the other holds a socket on the conversation that reconnects and resumes on its own. Redis is
stopped for a few seconds and started again. While it is down both processes answer `/readyz`
with 503 naming the cache and the channel layer; they recover without a restart. No request
hangs past its timeout. Every stored message reached the socket, or the socket was told
`resync_required` after it (the client refetches): never a silent gap.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.chat import Chat, Traffic, summary
from tests.faults.components import real_mode
from tests.faults.conftest import BOUNDED
from tests.faults.probes import HTTP_TIMEOUT, readiness, report
from tests.faults.sockets import ResumingSocket

OUTAGE_SECONDS = 3 if BOUNDED else 15


def _wait(condition: Any, timeout: float) -> float:
    started = time.monotonic()
    while not condition() and time.monotonic() - started < timeout:
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def redis_restarted() -> Iterator[dict[str, Any]]:
    with real_mode() as real:
        web_process, web = real.stack.web()
        realtime_process, realtime = real.stack.realtime()
        chat = Chat.open(web, real.env)
        socket = ResumingSocket(realtime, chat.recipient["access"], f"conv:{chat.conversation_id}")
        socket.start()
        traffic = Traffic(chat, interval=0.1)
        probes: dict[str, list[tuple[int, list[str], float]]] = {"web": [], "realtime": []}
        try:
            _wait(lambda: socket.seen.connects, 10)
            traffic.start()
            time.sleep(2)
            real.redis.stop()
            stopped, down_wall = time.monotonic(), time.time()
            while time.monotonic() - stopped < OUTAGE_SECONDS:
                probes["web"].append(readiness(web))
                probes["realtime"].append(readiness(realtime))
                time.sleep(0.3)
            real.redis.start()
            up_wall = time.time()
            ready_after = _wait(
                lambda: readiness(web)[0] == 200 and readiness(realtime)[0] == 200, 30
            )
            time.sleep(3)
        finally:
            traffic.stop()
        answers = list(chat.sent)
        for sent in chat.failed():  # the client retries, with the same client_msg_id
            chat.send(sent.client_msg_id)
        sentinel = chat.send("sentinel")
        sentinel_id = sentinel.answer.body.get("id") if sentinel.answer.status == 201 else None
        sentinel_after = _wait(lambda: sentinel_id in socket.seen.messages, 20)
        socket.stop()
        stored = real.pg.query(
            "SELECT id, extract(epoch FROM created_at)::float FROM messaging_message "
            "WHERE conversation_id = %s ORDER BY seq",
            [chat.conversation_id],
        )
        seen = socket.seen
        silent = [
            message_id
            for message_id, created in stored
            if message_id not in seen.messages and not any(at >= created for at, _ in seen.resyncs)
        ]
        figures = {
            "outage_s": OUTAGE_SECONDS,
            "readyz_web_while_down": sorted({(s, tuple(f)) for s, f, _ in probes["web"]}),
            "readyz_realtime_while_down": sorted({(s, tuple(f)) for s, f, _ in probes["realtime"]}),
            "readyz_slowest_s": round(max(t for p in probes.values() for _, _, t in p), 1),
            "ready_again_after_s": round(ready_after, 1),
            **summary(answers),
            "stored_messages": len(stored),
            "received_on_socket": len(seen.messages),
            "resync_required": [frame.get("reason") for _, frame in seen.resyncs],
            "socket_connects": seen.connects,
            "socket_drops": seen.drops,
            "sentinel_received_after_s": round(sentinel_after, 1),
            "silent_gaps": len(silent),
            "silent_committed_while_down": sum(
                1 for i, c in stored if i in silent and down_wall <= c <= up_wall
            ),
            "silent_committed_after_restart": sum(
                1 for i, c in stored if i in silent and c > up_wall
            ),
            "processes_alive": web_process.alive() and realtime_process.alive(),
        }
        report("redis restart", **figures)
        yield {**figures, "probes": probes, "answers": answers, "sentinel_id": sentinel_id,
               "seen": seen}  # fmt: skip


def test_web_and_realtime_report_not_ready_while_redis_is_down_and_recover(
    redis_restarted: dict[str, Any],
) -> None:
    figures = redis_restarted
    for name in ("web", "realtime"):
        answered = [(s, f) for s, f, _ in figures["probes"][name] if s]
        assert answered, name
        assert all(s == 503 and {"cache", "realtime"} <= set(f) for s, f in answered), name
    assert figures["ready_again_after_s"] < 30
    assert figures["processes_alive"]


def test_no_request_hangs_past_its_timeout_while_redis_restarts(
    redis_restarted: dict[str, Any],
) -> None:
    for sent in redis_restarted["answers"]:
        assert sent.answer.status != 0, sent
        assert sent.answer.seconds < HTTP_TIMEOUT, sent
        assert sent.answer.status in (200, 201) or sent.answer.code, sent


def test_the_socket_gets_every_message_or_resync_required_never_a_silent_gap(
    redis_restarted: dict[str, Any],
) -> None:
    assert redis_restarted["sentinel_id"] in redis_restarted["seen"].messages
    assert redis_restarted["silent_gaps"] == 0
