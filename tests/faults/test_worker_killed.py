"""Scenario 1: the events worker is SIGKILLed in the middle of a burst.

A burst of MessageSent events (10 000; 1 500 bounded) is published through the outbox; the
Procfile's `events` worker (solo pool) applies them to notifications, which writes one inbox
item per event. Mid-burst the worker is killed with SIGKILL while it holds a batch, at one of two
points: inside the batch's transaction (its effects die with it) or after its commit but before
the acknowledgement (its effects exist; the redelivery must have none). Its broker message stays
unacknowledged. A new worker starts.

Redelivery of an unacknowledged message is kombu's: a worker's periodic sweep puts back messages
unacknowledged for longer than the visibility timeout (`CELERY_BROKER_TRANSPORT_OPTIONS`, 300 s;
no environment override exists). The full run waits for it for real; the bounded run ages the
killed worker's unacked entries by the visibility timeout in the broker's index (what waiting
would have done), so the new worker's start-up sweep restores them at once.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.components import real_mode, run_python
from tests.faults.conftest import BOUNDED
from tests.faults.probes import failed_deliveries, inbox_counts, outbox_pending, report

BURST = 1_500 if BOUNDED else 10_000
QUEUES = ["events.notifications"]


def _unacked(redis: Any) -> tuple[list[str], list[str]]:
    """The task ids and event ids of the deliveries the broker holds as unacknowledged."""
    tasks, events = [], []
    for raw in redis.hvals("unacked"):
        message = json.loads(raw)[0]
        tasks.append(message["headers"]["id"])
        body = json.loads(base64.b64decode(message["body"]))
        _context, items = body[0]
        events.extend(item["envelope"]["event_id"] for item in items)
    return tasks, events


def _age_unacked(redis: Any, seconds: float) -> int:
    """Move every unacked delivery `seconds` into the past in kombu's index; how many."""
    entries = redis.zrange("unacked_index", 0, -1, withscores=True)
    if entries:
        redis.zadd("unacked_index", {tag: score - seconds for tag, score in entries})
    return len(entries)


def _applied(pg: Any, event_ids: list[str]) -> int:
    return int(
        pg.scalar(
            "SELECT count(*) FROM cleave_inboxentry WHERE event_id::text = ANY(%s)", [event_ids]
        )
    )


def _kill_at(point: str, real: Any, worker: Any, broker: Any) -> None:
    """SIGKILL `worker` once a third of the burst is applied and the batch it holds is at
    `point`: "mid_transaction" (none of its effects committed) or "after_commit" (all of them
    committed, the message not yet acknowledged: the worker is pushing to sockets)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if inbox_counts(real.pg).rows >= BURST // 3:
            _tasks, held = _unacked(broker)
            applied = _applied(real.pg, held) if held else -1
            if held and applied == (0 if point == "mid_transaction" else len(held)):
                worker.kill()
                return
        time.sleep(0.01)
    raise TimeoutError(f"the worker never held a batch at {point}")


@pytest.fixture(scope="module", params=["mid_transaction", "after_commit"])
def killed_mid_burst(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """Run the scenario once per kill point; the tests below read what it measured."""
    point = request.param
    with real_mode() as real:
        visibility = float(
            real.setting("settings.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout']")
        )
        broker = real.redis.client()
        first = real.stack.worker("events-a", queues=QUEUES)
        started = time.monotonic()
        run_python(real.env, "tests.faults.publisher", "messages", "--count", str(BURST))
        published = time.monotonic() - started

        _kill_at(point, real, first, broker)
        killed_at = time.monotonic()
        at_kill = inbox_counts(real.pg).rows
        unacked = broker.hlen("unacked")
        queued = broker.llen("events.notifications")
        held_tasks, held = _unacked(broker)
        held_applied = _applied(real.pg, held)
        finished = [t for t in held_tasks if f"{t}] succeeded" in first.log_text()]
        assert unacked == 1, "the killed worker held no delivery: nothing to redeliver"
        assert held_applied == (0 if point == "mid_transaction" else len(held)), held_applied

        aged = _age_unacked(broker, visibility + 1) if BOUNDED else 0
        real.stack.worker("events-b", queues=QUEUES)
        # Full run: the sweep runs every unacked_restore_interval (10 s) x throttle (10).
        limit = 120 if BOUNDED else visibility + 200
        deadline = time.monotonic() + limit
        drained_rows = None
        while time.monotonic() < deadline:
            queued_now, unacked_now = broker.llen(QUEUES[0]), broker.hlen("unacked")
            if not BOUNDED and drained_rows is None and not queued_now and unacked_now == unacked:
                drained_rows = inbox_counts(real.pg).rows  # the rest applied, not the kept batch
            if not queued_now and not unacked_now and inbox_counts(real.pg).rows >= BURST:
                break
            time.sleep(0.25)
        complete_after = time.monotonic() - killed_at
        time.sleep(3)  # anything redelivered twice would land now
        counts = inbox_counts(real.pg)
        figures = {
            "kill_point": point,
            "burst": BURST,
            "publish_s": round(published, 1),
            "applied_at_kill": at_kill,
            "unacked_at_kill": unacked,
            "queued_at_kill": queued,
            "killed_batch_events": len(held),
            "killed_batch_applied_before_kill": held_applied,
            "killed_task_logged_success": len(finished),
            "rows_before_redelivery": drained_rows,
            "aged_entries": aged,
            "visibility_timeout_s": visibility,
            "complete_after_kill_s": round(complete_after, 1),
            "rows": counts.rows,
            "distinct": counts.distinct,
            "order_inversions": counts.inversions,
            "outbox_pending": outbox_pending(real.pg),
            "failed_deliveries": failed_deliveries(real.pg),
            "unacked_after": broker.hlen("unacked"),
            "queued_after": broker.llen("events.notifications"),
        }
        report(f"worker SIGKILL mid-burst ({point})", **figures)
        yield figures


def test_every_event_has_exactly_one_effect_after_a_worker_is_killed_mid_burst(
    killed_mid_burst: dict[str, Any],
) -> None:
    figures = killed_mid_burst
    assert (figures["rows"], figures["distinct"]) == (BURST, BURST)
    assert figures["outbox_pending"] == 0
    assert figures["failed_deliveries"] == {}
    assert (figures["unacked_after"], figures["queued_after"]) == (0, 0)
    if not BOUNDED:  # redelivered by the sweep after the visibility timeout, never before
        assert figures["complete_after_kill_s"] >= figures["visibility_timeout_s"]


ORDER_GAP = (
    "product gap: a worker restarted within the visibility timeout consumes the rest of "
    "events.notifications first; the killed worker's uncommitted batch is restored 300-400 s "
    "later (kombu's unacked sweep) and applied after later events of the same aggregates, "
    "while docs/architecture.md promises per-aggregate order without naming this limit"
)


@pytest.fixture
def _order_expectation(killed_mid_burst: dict[str, Any], request: pytest.FixtureRequest) -> None:
    # Only a batch whose effects died with the worker, restored after the rest, can overtake.
    if not BOUNDED and killed_mid_burst["kill_point"] == "mid_transaction":
        request.applymarker(pytest.mark.xfail(strict=True, reason=ORDER_GAP))


@pytest.mark.usefixtures("_order_expectation")
def test_events_of_an_aggregate_stay_in_order_after_a_worker_is_killed_mid_burst(
    killed_mid_burst: dict[str, Any],
) -> None:
    assert killed_mid_burst["order_inversions"] == 0
