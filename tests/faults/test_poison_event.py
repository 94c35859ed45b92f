"""Scenario 5: one poisoned event, end to end with real workers and beat.

identity.user_updated events are published for three users; one carries a time zone longer
than notifications' column (64 characters), so its subscriber raises (a DataError) on every
attempt. The delivery is retried with backoff by beat's `retry_due` (every 2 s), becomes a dead
letter after CLEAVE_EVENTS_MAX_ATTEMPTS, and meanwhile other users' events flow; the poisoned
user's later event is held behind it and released, in order, once it is dead.
"""

from __future__ import annotations

import time

from tests.faults.components import real_mode, run_python
from tests.faults.probes import failed_deliveries, gauge, report

POISON = "Poison/" + "x" * 100  # longer than Preferences.timezone (max_length=64)


def _timezones(pg) -> dict[int, str]:
    return dict(pg.query("SELECT user_id, timezone FROM notifications_preferences"))


def _publish(env: dict[str, str], user: int, *zones: str) -> None:
    run_python(env, "tests.faults.publisher", "user-updates", "--user", str(user),
               "--timezones", ",".join(zones))  # fmt: skip


def test_a_poisoned_event_retries_dead_letters_and_later_events_keep_flowing() -> None:
    with real_mode() as real:
        real.stack.worker("tasks", queues=["celery"])
        real.stack.beat()
        _, web = real.stack.web()
        max_attempts = int(real.setting("settings.CLEAVE_EVENTS_MAX_ATTEMPTS"))

        # Both publishers run before the events worker starts: on a loaded machine starting the
        # second publisher once took longer than the poisoned event's five attempts, so the
        # check below found a dead letter instead of a retrying one.
        _publish(real.env, 7, "Europe/Paris", POISON, "Asia/Tokyo")
        _publish(real.env, 8, "America/Lima")
        real.stack.worker("events", queues=["events.notifications"])
        started = time.monotonic()

        # Other aggregates flow while the poisoned one is retried.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _timezones(real.pg).get(8) != "America/Lima":
            time.sleep(0.1)
        other_flowed_after = time.monotonic() - started
        assert _timezones(real.pg) == {7: "Europe/Paris", 8: "America/Lima"}
        assert failed_deliveries(real.pg) == {"retrying": 1, "held": 1}

        # Backoff 2 s base, doubling, jittered: the dead letter comes within ~2+4+8+16 s.
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and failed_deliveries(real.pg) != {"dead": 1}:
            time.sleep(0.25)
        dead_after = time.monotonic() - started
        dead = real.pg.query(
            "SELECT subscriber, attempts, last_error FROM cleave_faileddelivery WHERE status='dead'"
        )
        # The held event was released in order once the poisoned one was dead.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _timezones(real.pg).get(7) != "Asia/Tokyo":
            time.sleep(0.1)
        zones_after_dead = _timezones(real.pg)

        # And the bus keeps flowing afterwards.
        _publish(real.env, 9, "Africa/Lagos")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _timezones(real.pg).get(9) != "Africa/Lagos":
            time.sleep(0.1)
        dead_letters_gauge = gauge(web, "cleave_events_dead_letters", 'database="default"')
        report(
            "poisoned event",
            other_aggregate_applied_after_s=round(other_flowed_after, 1),
            dead_letter_after_s=round(dead_after, 1),
            attempts=dead[0][1] if dead else None,
            error=(dead[0][2][:60] if dead else None),
            dead_letters_gauge=dead_letters_gauge,
        )
        assert failed_deliveries(real.pg) == {"dead": 1}
        assert dead[0][:2] == ("notifications.on_user_updated", max_attempts)
        assert "DataError" in dead[0][2]
        assert zones_after_dead == {7: "Asia/Tokyo", 8: "America/Lima"}
        assert _timezones(real.pg)[9] == "Africa/Lagos"
        assert dead_letters_gauge == 1.0
