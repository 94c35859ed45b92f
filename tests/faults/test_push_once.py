"""Scenario 6: a batch rolled back after its pushes were due is re-applied event by event, and
each notification reaches the (fake) FCM and APNs services exactly once (issue 18).

Ten offline users each have a phone (android and iOS in turn) learned from identity's events.
One transaction then publishes a message to each of them followed by a poisoned event
(a time zone longer than notifications' column), so the relay hands all eleven to the events
worker as one batch. The worker applies the batch in one savepoint; the poisoned event fails
last, after the messages' pushes were decided; the batch is rolled back and applied again one
event at a time. A push sent inside the transaction went out twice; sent after commit, once.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

from apps.notifications.tests.fake_push_server import running_fake_push_services
from tests.faults.components import real_mode, run_python
from tests.faults.probes import failed_deliveries, report

USERS = [3_000_001 + n for n in range(10)]
POISON = "Poison/" + "x" * 100  # longer than Preferences.timezone (max_length=64)
# Celery's line for each broker message the worker takes: one per batch the relay handed off.
BATCH_RECEIVED = re.compile(r"Task cleave\.events\.deliver_batch\[[^\]]+\] received")
SETTLE_SECONDS = 3.0  # how long we keep watching for a late second push


def _count(pg, sql: str) -> int:
    return int(pg.scalar(sql))


def _wait(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def test_a_batch_rolled_back_and_reapplied_event_by_event_pushes_each_notification_once(
    tmp_path: Path,
) -> None:
    users = ",".join(str(user) for user in USERS)
    with (
        running_fake_push_services(tmp_path) as fakes,
        real_mode(**fakes.provider_env) as real,
    ):
        events = real.stack.worker("events", queues=["events.notifications"])
        run_python(real.env, "tests.faults.publisher", "push-tokens", "--users", users)
        assert _wait(
            lambda: _count(real.pg, "SELECT count(*) FROM notifications_device") == len(USERS),
            timeout=30,
        ), "notifications did not learn the devices"
        batches_before = len(BATCH_RECEIVED.findall(events.log_text()))

        started = time.monotonic()
        run_python(
            real.env, "tests.faults.publisher", "messages-then-poison",
            "--users", users, "--poison", POISON,
        )  # fmt: skip
        applied = _wait(
            lambda: (
                _count(real.pg, "SELECT count(*) FROM notifications_inboxitem") == len(USERS)
                and failed_deliveries(real.pg) == {"retrying": 1}
            ),
            timeout=30,
        )
        pushed = _wait(lambda: len(fakes.received()) >= len(USERS), timeout=30)
        pushed_after = time.monotonic() - started
        time.sleep(SETTLE_SECONDS)  # a second push for the same message would show by now
        received = fakes.received()
        per_token = Counter(request["token"] for request in received)
        per_service = Counter(request["service"] for request in received)
        batches = len(BATCH_RECEIVED.findall(events.log_text())) - batches_before
        attempts = real.pg.query(
            "SELECT ok, count(*) FROM notifications_deliveryattempt GROUP BY ok"
        )
        report(
            "push once",
            requests=len(received),
            notifications=len(USERS),
            most_per_token=max(per_token.values(), default=0),
            fcm=per_service["fcm"],
            apns=per_service["apns"],
            batches=batches,
            all_pushed_after_s=round(pushed_after, 1),
        )
        assert applied, (
            _count(real.pg, "SELECT count(*) FROM notifications_inboxitem"),
            failed_deliveries(real.pg),
        )
        assert pushed
        assert batches == 1  # one batch, or no rollback took the messages' pushes with it
        assert per_token == Counter({f"push-{user}": 1 for user in USERS}), per_token
        assert per_service == Counter({"fcm": len(USERS) // 2, "apns": len(USERS) // 2})
        assert dict(attempts) == {True: len(USERS)}
