"""Saga definitions: what a definition refuses, the kill points it brings, its retry policy's
backoff and jitter, its idempotency keys, and the check that flags a kill point left set."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

import pytest
from django.core.checks import run_checks
from django.test import override_settings

from cleave.sagas import Retry, Saga, Step, StepContext
from cleave.sagas.definitions import UnknownSaga, idempotency_key, sagas


def _noop(ctx: StepContext) -> None:
    return None


def test_a_new_step_brings_its_own_kill_points() -> None:
    before = Saga("shop.buy", (Step("pay", action=_noop, compensation=_noop),))
    after = Saga("shop.buy", (*before.steps, Step("ship", action=_noop)))
    assert before.kill_points() == [
        "shop.buy:pay:before", "shop.buy:pay:after",
        "shop.buy:pay:before:compensate", "shop.buy:pay:after:compensate",
    ]  # fmt: skip
    assert set(after.kill_points()) - set(before.kill_points()) == {
        "shop.buy:ship:before",
        "shop.buy:ship:after",
    }


def test_a_waiting_step_without_an_action_has_no_kill_point_and_a_step_needs_something() -> None:
    waiting = Saga("shop.wait", (Step("confirm", wait_for="confirmed"),))
    assert waiting.kill_points() == []
    with pytest.raises(ValueError, match="needs an action, a wait_for, or both"):
        Step("empty")


@pytest.mark.parametrize(
    ("name", "steps", "complaint"),
    [
        ("nodot", (Step("a", action=_noop),), "must be '<context>.<name>'"),
        ("shop.a:b", (Step("a", action=_noop),), "without ':'"),
        ("shop.twice", (Step("a", action=_noop), Step("a", action=_noop)), "distinct names"),
        ("shop.none", (), "distinct names"),
    ],
)
def test_a_definition_refuses_names_kill_points_could_not_tell_apart(
    name: str, steps: tuple[Step, ...], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        Saga(name, steps)
    with pytest.raises(ValueError, match="separates kill-point parts"):
        Step("a:b", action=_noop)


def test_backoff_doubles_up_to_its_cap_with_jitter_between_half_and_all() -> None:
    policy = Retry(attempts=10, base=1.0, cap=8.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays), (attempt, delays)
        assert len(delays) > 1  # jittered, not one fixed wait


def test_the_idempotency_key_is_the_saga_and_the_step_on_every_try() -> None:
    saga_id = UUID("12345678-1234-5678-1234-567812345678")
    assert idempotency_key(saga_id, "capture") == f"{saga_id}:capture"
    assert idempotency_key(saga_id, "capture", compensate=True) == f"{saga_id}:capture:compensate"


def test_an_unknown_saga_is_named() -> None:
    with pytest.raises(UnknownSaga, match="nobody.nothing"):
        sagas.get("nobody.nothing")
    assert sagas.get("orders.checkout").step("confirm").deadline == timedelta(minutes=2)


def test_a_kill_point_left_set_is_flagged_by_a_system_check() -> None:
    assert not [m for m in run_checks() if m.id == "cleave.W030"]
    with override_settings(CLEAVE_SAGA_KILL_AT="orders.checkout:charge:after"):
        (warning,) = [m for m in run_checks() if m.id == "cleave.W030"]
    assert "orders.checkout:charge:after" in warning.msg
