"""Scenario 3: PostgreSQL restarts under chat traffic.

`web` (granian), the events worker, a task worker and beat run against the test's own cluster,
which is stopped (fast shutdown: every connection closed) for a few seconds and started again.
While it is down `/readyz` answers 503 naming the database; then it is ready again with no
process restarted (the psycopg pool reconnects). Every send either succeeded or failed with an
error envelope within its timeout; retried with the same `client_msg_id` afterwards, every
message exists once, and every message's MessageSent event has produced exactly one inbox item.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.chat import Chat, Traffic, summary
from tests.faults.components import real_mode
from tests.faults.conftest import BOUNDED
from tests.faults.probes import failed_deliveries, outbox_pending, readiness, report

OUTAGE_SECONDS = 4 if BOUNDED else 20
READYZ_BOUND_SECONDS = 2.0 * 4 + 1  # docs/operations.md: each check bounded by 2 s


@pytest.fixture(scope="module")
def postgres_restarted() -> Iterator[dict[str, Any]]:
    with real_mode() as real:
        web_process, web = real.stack.web()
        events = real.stack.worker("events", queues=["events.notifications"])
        real.stack.worker("tasks", queues=["celery"])
        real.stack.beat()
        chat = Chat.open(web, real.env)
        traffic = Traffic(chat, interval=0.05)
        traffic.start()
        probes: list[tuple[int, list[str], float]] = []
        try:
            time.sleep(2)
            real.pg.stop("fast")
            stopped = time.monotonic()
            while time.monotonic() - stopped < OUTAGE_SECONDS:
                probes.append(readiness(web))
                time.sleep(0.5)
            real.pg.start()
            restarted = time.monotonic()
            while readiness(web)[0] != 200 and time.monotonic() - restarted < 30:
                time.sleep(0.2)
            ready_after = time.monotonic() - restarted
            time.sleep(2)
        finally:
            traffic.stop()

        during = summary(chat.sent)
        answers = list(chat.sent)
        for sent in chat.failed():  # the client retries, with the same client_msg_id
            chat.send(sent.client_msg_id)
        messages = real.pg.query(
            "SELECT seq FROM messaging_message WHERE conversation_id = %s", [chat.conversation_id]
        )
        # Batches that failed on the database come back through Celery's retry backoff
        # (deliver_batch: full jitter, capped at 5 s); the wait leaves a wide margin for a
        # 2-core machine shared with other work.
        recovering = time.monotonic()
        deadline = recovering + 150
        while time.monotonic() < deadline:
            inbox = real.pg.query(
                "SELECT (data->>'seq')::int FROM notifications_inboxitem "
                "WHERE (data->>'conversation_id')::int = %s",
                [chat.conversation_id],
            )
            if len(inbox) >= len(messages) and not outbox_pending(real.pg):
                break
            time.sleep(0.5)
        delivered_after = time.monotonic() - recovering
        figures = {
            "outage_s": OUTAGE_SECONDS,
            "readyz_while_down": sorted({(s, tuple(f)) for s, f, _ in probes}),
            "readyz_slowest_s": round(max(t for _, _, t in probes), 1),
            "ready_again_after_s": round(ready_after, 1),
            **during,
            "still_failing_after_retry": len(chat.failed()),
            "messages": len(messages),
            "client_msg_ids": len({sent.client_msg_id for sent in chat.sent}),
            "inbox_items": len(inbox),
            "all_delivered_after_s": round(delivered_after, 1),
            "inbox_matches_messages": sorted(inbox) == sorted(messages),
            "outbox_pending": outbox_pending(real.pg),
            "missing_seqs": sorted(set(messages) - set(inbox)),
            "failed_deliveries": failed_deliveries(real.pg),
            "worker_retries": events.log_text().count("Retry in"),
            # The longest backoff a batch waited: before the cap a batch that failed eight times
            # during the restart waited up to 256 s, past this test's wait (issue 18).
            "worker_longest_retry_s": max(
                (int(s) for s in re.findall(r"Retry in (\d+)s", events.log_text())), default=0
            ),
            "worker_most_retries_of_one_batch": max(
                Counter(
                    re.findall(r"deliver_batch\[([0-9a-f-]+)\] retry", events.log_text())
                ).values(),
                default=0,
            ),
            "web_alive": web_process.alive(),
        }
        if figures["missing_seqs"]:
            figures["missing_trail"] = _trail(real, chat.conversation_id, figures, events)
        report("postgres restart", **figures)
        yield {**figures, "probes": probes, "answers": answers}


def _trail(real: Any, conversation_id: int, figures: dict[str, Any], events: Any) -> list:
    """Where each missing message's event stopped: its outbox row (handed off? its number in
    the conversation's stream), the kernel inbox (applied?), the subscriber's high-water mark,
    and whether the events worker ever received a batch naming it."""
    seqs = [seq for (seq,) in figures["missing_seqs"]] if figures["missing_seqs"] else []
    rows = real.pg.query(
        "SELECT o.event_id::text, o.aggregate_seq, o.dispatched_at IS NOT NULL, "
        "o.dispatch_attempts, (SELECT count(*) FROM cleave_inboxentry i "
        "WHERE i.event_id = o.event_id), (SELECT max(applied_seq) FROM cleave_inboxposition p "
        "WHERE p.aggregate_id = o.aggregate_id) "
        "FROM cleave_outboxevent o WHERE o.aggregate_id = %s "
        "AND (o.envelope->'payload'->>'seq')::int = ANY(%s)",
        [str(conversation_id), seqs],
    )
    log = events.log_text()
    return [(*row, row[0] in log) for row in rows]


def test_readyz_names_the_database_while_it_is_down_and_recovers(
    postgres_restarted: dict[str, Any],
) -> None:
    figures = postgres_restarted
    answered = [(status, failing) for status, failing, _ in figures["probes"] if status]
    assert (503, ["database"]) in answered
    assert all(status == 503 and "database" in failing for status, failing in answered)
    assert figures["ready_again_after_s"] < 30
    assert figures["web_alive"]  # the same process: its pool reconnected


def test_requests_during_a_postgres_restart_fail_cleanly_and_no_event_is_lost(
    postgres_restarted: dict[str, Any],
) -> None:
    figures = postgres_restarted
    for sent in figures["answers"]:  # answered within the timeout, an envelope when failing
        assert sent.answer.status != 0, sent
        assert sent.answer.status in (200, 201) or sent.answer.code, sent
    assert figures["still_failing_after_retry"] == 0
    assert figures["messages"] == figures["client_msg_ids"]
    evidence = ("messages", "inbox_items", "missing_seqs", "failed_deliveries", "outbox_pending")
    assert figures["inbox_matches_messages"], {name: figures[name] for name in evidence} | {
        "all_delivered_after_s": figures["all_delivered_after_s"],
        # Each missing event's outbox row, inbox entry, the stream's mark, and whether the
        # events worker's log names it: where it stopped (once seen in CI, not reproduced).
        "missing_trail": figures.get("missing_trail"),
    }
    assert figures["outbox_pending"] == 0


def test_readyz_answers_within_its_documented_bound_while_the_database_is_down(
    postgres_restarted: dict[str, Any],
) -> None:
    assert all(
        0 < seconds <= READYZ_BOUND_SECONDS for _, _, seconds in postgres_restarted["probes"]
    )
