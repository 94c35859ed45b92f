"""A context's periodic task: a beat entry in real mode, the embedded periodic thread's work
otherwise (cleave.background.register_periodic)."""

from __future__ import annotations

from celery import shared_task

from cleave import background
from cleave.celery import app

runs: list[str] = []


@shared_task(name="cleave.tests.periodic_probe")
def probe() -> None:
    runs.append("ran")


def test_a_registered_task_is_on_beats_schedule_and_runs_when_due_in_embedded_mode() -> None:
    background.register_periodic("probe", "cleave.tests.periodic_probe", 30.0)
    try:
        assert app.conf.beat_schedule["probe"] == {
            "task": "cleave.tests.periodic_probe",
            "schedule": 30.0,
        }
        background.run_due_periodic(1000.0)
        background.run_due_periodic(1010.0)  # not due yet
        background.run_due_periodic(1031.0)
        assert runs == ["ran", "ran"]
    finally:
        background._periodic.pop("probe", None)
        background._last_run.pop("probe", None)
        app.conf.beat_schedule.pop("probe", None)
