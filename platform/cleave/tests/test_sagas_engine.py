"""The saga engine on the kernel's example saga (orders.checkout against a real HTTP effects
service): the happy path, waiting for a signal, compensation on decline, cancel and timeout,
retries through an outage, and what a redelivered step does (nothing)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction

from cleave.sagas import saga_cancel, saga_get, saga_signal, saga_start
from cleave.sagas.models import SagaRun, SagaStep
from cleave.sagas.runner import advance
from cleave.sagas.sweeper import sweep
from cleave.testing.effects import EffectsLedger
from cleave.tests.example.orders.sagas import CHECKOUT
from cleave.tests.saga_world import checkout_input, effects, in_process, later, sample, timeline

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["effects", "in_process"]  # fixtures, used by name (in_process: autouse)

Served = tuple[str, EffectsLedger]


def test_a_signalled_checkout_runs_every_step_once_and_records_its_history(effects: Served) -> None:
    url, ledger = effects
    started = sample("cleave_sagas_started_total", saga="orders.checkout")
    completed = sample("cleave_sagas_completed_total", saga="orders.checkout")

    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    assert saga_get(saga_id).state == "waiting"  # for payment_confirmed, after reserve and charge
    assert saga_signal(saga_id, "payment_confirmed", {"ok": True})

    view = saga_get(saga_id)
    assert view.state == "completed"
    assert set(view.results) == {"reserve", "charge", "confirm", "ship"}
    assert sorted(ledger.applied.values()) == [1, 1, 1]  # stock, payment, shipment: once each
    steps = SagaStep.objects.filter(run_id=saga_id).order_by("id")
    assert [(s.name, s.phase, s.status, s.attempts) for s in steps] == [
        ("reserve", "action", "done", 1), ("charge", "action", "done", 1),
        ("confirm", "action", "done", 1), ("ship", "action", "done", 1),
    ]  # fmt: skip
    assert steps[2].command["signal"] == {"ok": True}
    assert all(s.finished_at and s.finished_at >= s.started_at for s in steps)
    assert sample("cleave_sagas_started_total", saga="orders.checkout") == started + 1
    assert sample("cleave_sagas_completed_total", saga="orders.checkout") == completed + 1


def test_each_step_sends_one_idempotency_key_derived_from_the_saga_and_the_step(
    effects: Served,
) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    saga_signal(saga_id, "payment_confirmed", {})
    assert sorted(ledger.effects) == sorted(
        f"{saga_id}:{step}" for step in ("reserve", "charge", "ship")
    )


def test_a_signal_that_arrives_before_the_saga_waits_for_it_is_kept(effects: Served) -> None:
    url, _ = effects
    with transaction.atomic():  # the runner first sees the saga with its signal already in
        saga_id = saga_start("orders.checkout", input=checkout_input(url))
        assert saga_signal(saga_id, "payment_confirmed", {"ok": True})
    assert saga_get(saga_id).state == "completed"
    assert "waiting" not in _kinds(saga_id)


def test_duplicated_and_late_signals_change_nothing_twice(effects: Served) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    assert saga_signal(saga_id, "payment_confirmed", {"ok": True})
    assert not saga_signal(saga_id, "payment_confirmed", {"ok": False})  # a late contradiction
    assert not saga_signal(saga_id, "payment_confirmed", {"ok": True})
    assert saga_get(saga_id).state == "completed"
    assert sorted(ledger.applied.values()) == [1, 1, 1]


def test_a_declined_last_step_compensates_the_earlier_ones_in_reverse_order(
    effects: Served,
) -> None:
    url, ledger = effects
    compensated = sample(
        "cleave_sagas_compensated_total", saga="orders.checkout", reason="declined"
    )
    saga_id = saga_start(CHECKOUT, input=checkout_input(url, decline="ship"))
    saga_signal(saga_id, "payment_confirmed", {})

    view = saga_get(saga_id)
    assert (view.state, view.reason) == ("compensated", "declined")
    assert ledger.undone == {f"{saga_id}:charge": 1, f"{saga_id}:reserve": 1}
    assert not ledger.nothing_to_undo
    undone = [step for kind, step in timeline(saga_id) if kind == "compensation done"]
    assert undone == ["charge", "reserve"]
    assert sample("cleave_sagas_compensated_total", saga="orders.checkout", reason="declined") == (
        compensated + 1
    )


def test_a_declined_first_step_is_compensated_safely_and_nothing_later_is_tried(
    effects: Served,
) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url, decline="reserve"))
    assert saga_get(saga_id).state == "compensated"
    assert not ledger.applied
    assert not ledger.undone
    # The compensation ran (the effect might have happened) and found nothing to undo.
    assert ledger.nothing_to_undo == {f"{saga_id}:reserve": 1}
    assert not SagaStep.objects.filter(run_id=saga_id, name="charge").exists()


def test_a_payment_not_confirmed_compensates(effects: Served) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    saga_signal(saga_id, "payment_confirmed", {"ok": False})
    assert saga_get(saga_id).state == "compensated"
    assert ledger.undone == {f"{saga_id}:charge": 1, f"{saga_id}:reserve": 1}


def test_a_cancel_while_waiting_compensates_and_a_cancel_after_the_end_is_refused(
    effects: Served,
) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    assert saga_cancel(saga_id, reason="the user cancelled")
    view = saga_get(saga_id)
    assert (view.state, view.reason) == ("compensated", "cancelled")
    assert ledger.undone == {f"{saga_id}:charge": 1, f"{saga_id}:reserve": 1}
    assert not saga_cancel(saga_id)
    assert not saga_signal(saga_id, "payment_confirmed", {})  # too late: changes nothing
    assert saga_get(saga_id).state == "compensated"


def test_a_saga_waiting_past_its_deadline_is_compensated_by_the_sweeper_and_counted_stuck(
    effects: Served,
) -> None:
    url, ledger = effects
    stuck = sample("cleave_sagas_stuck_total", saga="orders.checkout", step="confirm")
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    assert sweep(now=later(60)) == 0  # within confirm's 2 minutes: nothing to do
    assert saga_get(saga_id).state == "waiting"

    assert sweep(now=later(121)) == 1
    view = saga_get(saga_id)
    assert (view.state, view.reason) == ("compensated", "timeout")
    assert ledger.undone == {f"{saga_id}:charge": 1, f"{saga_id}:reserve": 1}
    assert sample("cleave_sagas_stuck_total", saga="orders.checkout", step="confirm") == stuck + 1


def test_an_outage_is_retried_with_backoff_within_the_deadline_then_the_step_completes(
    effects: Served,
) -> None:
    url, ledger = effects
    ledger.down = True
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    reserve = SagaStep.objects.get(run_id=saga_id, name="reserve")
    assert (saga_get(saga_id).state, reserve.attempts) == ("running", 1)
    assert reserve.next_attempt_at is not None
    assert "503" in reserve.error
    for seconds in (3, 6, 9):  # each sweep finds the next try due
        sweep(now=later(seconds))
    assert SagaStep.objects.get(pk=reserve.pk).attempts == 4
    ledger.down = False
    sweep(now=later(12))
    assert saga_get(saga_id).state == "waiting"
    assert ledger.applied == {f"{saga_id}:reserve": 1, f"{saga_id}:charge": 1}
    assert ledger.refused_while_down == 4


def test_an_outage_past_the_deadline_compensates_and_the_compensation_waits_for_the_service(
    effects: Served,
) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    ledger.down = True
    saga_signal(saga_id, "payment_confirmed", {})  # confirm is local; ship's first try fails
    run = SagaRun.objects.get(id=saga_id)
    assert (run.state, run.step) == ("running", "ship")
    for seconds in (5, 10, 20, 31):  # the last sweep is past ship's 30 s deadline
        sweep(now=later(seconds))
    run = SagaRun.objects.get(id=saga_id)
    assert (run.state, run.reason) == ("compensating", "timeout")
    ledger.down = False
    sweep(now=later(60))
    assert saga_get(saga_id).state == "compensated"
    # Ship's effect never happened; its (absent) compensation is not called; the rest undone.
    assert ledger.undone == {f"{saga_id}:charge": 1, f"{saga_id}:reserve": 1}
    assert f"{saga_id}:ship" not in ledger.applied


def test_a_redelivered_or_repeated_run_has_no_second_effect(effects: Served) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    saga_signal(saga_id, "payment_confirmed", {})
    requests = dict(ledger.effect_requests)
    for _ in range(3):
        assert advance("orders.checkout", saga_id) == "completed"
    sweep(now=later(3600))
    assert dict(ledger.effect_requests) == requests


def test_starting_twice_with_the_same_id_starts_one_saga(effects: Served) -> None:
    url, ledger = effects
    first = saga_start(CHECKOUT, input=checkout_input(url))
    assert saga_start(CHECKOUT, input=checkout_input(url), saga_id=first) == first
    assert SagaRun.objects.count() == 1
    assert ledger.applied == {f"{first}:reserve": 1, f"{first}:charge": 1}


def _kinds(saga_id: Any) -> list[str]:
    return [kind for kind, _ in timeline(saga_id)]


def test_the_timeline_tells_the_story_of_a_compensated_saga(effects: Served) -> None:
    url, _ = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url, decline="charge"))
    assert _kinds(saga_id) == [
        "started", "attempt", "done", "attempt", "declined", "compensating",
        "compensating", "compensation done", "compensating", "compensation done", "compensated",
    ]  # fmt: skip


def test_a_signal_whose_hand_off_was_lost_is_picked_up_by_the_sweeper(effects: Served) -> None:
    url, _ = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    with transaction.atomic():
        assert saga_signal(saga_id, "payment_confirmed", {})
        connection.run_on_commit.clear()  # the process died between commit and hand-off
    assert saga_get(saga_id).state == "waiting"
    assert sweep() == 1  # a signal newer than the saga's last change
    assert saga_get(saga_id).state == "completed"
    assert sweep() == 0


def test_the_engines_own_signal_names_are_refused(effects: Served) -> None:
    url, _ = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    with pytest.raises(ValueError, match="reserved"):
        saga_signal(saga_id, "cleave.cancel", {})
    assert saga_get(saga_id).state == "waiting"
