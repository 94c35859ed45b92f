"""Scenario 7 (issue 21): a saga survives `kill -9` of the worker running it at every step
boundary, and an outage of the service its steps call.

The kernel's example checkout saga (reserve stock → take the payment → wait for its
confirmation → ship; cleave/tests/example/orders/sagas.py) calls a real HTTP service that
applies each effect once per idempotency key and counts effects and compensations per saga step
(cleave.testing.effects). For each kill point of the saga's definition (`kill_points()`, so a
new step brings its own; bounded: a subset) a worker started with CLEAVE_SAGA_KILL_AT=<point>
SIGKILLs itself there; a new worker (and beat's sweeper) takes over. The end state is always
consistent: every effect applied at most once; a completed saga has each effect once and no
compensation; a compensated one has undone every effect it made, and undone nothing it did not.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from cleave.testing.effects import EffectsLedger, effects_server
from tests.faults.components import EVENTS_WORKER_ENV, RealMode, real_mode, run_python
from tests.faults.conftest import BOUNDED
from tests.faults.probes import report

SAGA = "orders.checkout"
# The example saga's kill points, as its definition lists them (checked below against it).
FORWARD = ["reserve", "charge", "confirm", "ship"]
COMPENSATED = ["reserve", "charge"]
ALL_POINTS = [f"{SAGA}:{s}:{w}" for s in FORWARD for w in ("before", "after")] + [
    f"{SAGA}:{s}:{w}:compensate" for s in COMPENSATED for w in ("before", "after")
]
BOUNDED_POINTS = [
    f"{SAGA}:charge:before", f"{SAGA}:charge:after",
    f"{SAGA}:charge:before:compensate", f"{SAGA}:reserve:after:compensate",
]  # fmt: skip
POINTS = BOUNDED_POINTS if BOUNDED else ALL_POINTS
QUEUES = ["events.orders", "celery"]  # the saga's steps, and beat's sweeper
SETTINGS = {"DJANGO_SETTINGS_MODULE": "cleave.tests.settings"}
SHORT_OUTAGE, LONG_OUTAGE = (10, 35) if BOUNDED else (20, 60)  # the steps' deadline is 30 s


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[RealMode, str, EffectsLedger]]:
    with effects_server() as (url, ledger), real_mode(**SETTINGS) as real:
        real.stack.beat()
        yield real, url, ledger


def _start(real: RealMode, url: str, *, count: int = 1, decline: str = "") -> list[str]:
    args = ["--url", url, "--count", str(count)] + (["--decline", decline] if decline else [])
    return run_python(real.env, "tests.faults.saga_starter", *args).split()


def _states(real: RealMode, ids: list[str]) -> dict[str, str]:
    rows = real.pg.query(
        "SELECT id::text, state FROM cleave_sagarun WHERE id::text = ANY(%s)", [ids]
    )
    return dict(rows)


def _wait_finished(real: RealMode, ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = _states(real, ids)
        if all(states.get(i) in ("completed", "compensated") for i in ids):
            return states
        time.sleep(0.25)
    return _states(real, ids)


def _consistent(ledger: EffectsLedger, saga_id: str, state: str) -> list[str]:
    """What is wrong with the saga's effects given its end state (empty: consistent)."""
    snapshot = ledger.snapshot()
    applied = {
        s: snapshot["applied"].get(f"{saga_id}:{s}", 0) for s in ("reserve", "charge", "ship")
    }
    undone = {s: snapshot["undone"].get(f"{saga_id}:{s}", 0) for s in ("reserve", "charge")}
    wrong = [f"{s} applied {n} times" for s, n in applied.items() if n > 1]
    if state == "completed":
        wrong += [f"{s} not applied" for s, n in applied.items() if n != 1]
        wrong += [f"{s} undone" for s, n in undone.items() if n]
    elif state == "compensated":
        wrong += [f"{s} undone without its effect" for s, n in undone.items() if n > applied[s]]
        wrong += [f"{s} kept" for s, n in undone.items() if applied[s] and not n]
        wrong += ["shipped"] if applied["ship"] else []
    else:
        wrong.append(f"ended {state!r}")
    return wrong


def test_the_example_sagas_kill_points_are_the_ones_its_definition_lists() -> None:
    import django

    django.setup()
    from cleave.sagas import sagas

    assert sorted(sagas.get(SAGA).kill_points()) == sorted(ALL_POINTS)


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_at_a_kill_point_leaves_the_saga_consistent(
    world: tuple[RealMode, str, EffectsLedger], point: str
) -> None:
    real, url, ledger = world
    compensating = point.endswith(":compensate")
    killed = real.stack.worker(
        f"killed-{point.split(':', 1)[1].replace(':', '-')}",
        queues=QUEUES,
        env={**SETTINGS, **EVENTS_WORKER_ENV, "CLEAVE_SAGA_KILL_AT": point},
    )
    (saga_id,) = _start(real, url, decline="ship" if compensating else "")
    killed.popen.wait(timeout=120)  # type: ignore[union-attr]
    assert killed.popen.returncode == -9, "the worker never reached the kill point"  # type: ignore[union-attr]
    at_kill = _states(real, [saga_id])[saga_id]
    started = time.monotonic()
    survivor = real.stack.worker(
        f"after-{point.split(':', 1)[1].replace(':', '-')}",
        queues=QUEUES,
        env={**SETTINGS, **EVENTS_WORKER_ENV},
    )
    try:
        state = _wait_finished(real, [saga_id], timeout=120)[saga_id]
    finally:
        survivor.stop()
    requests = {
        key.split(":", 1)[1]: count
        for key, count in ledger.snapshot()["effect_requests"].items()
        if key.startswith(saga_id)
    }
    report(
        "saga kill point", point=point, state_at_kill=at_kill, end_state=state,
        finished_after_restart_s=round(time.monotonic() - started, 1), effect_requests=requests,
    )  # fmt: skip
    assert state == ("compensated" if compensating else "completed")
    assert _consistent(ledger, saga_id, state) == []
    step = point.split(":")[1]  # "<saga>:<step>:<before|after>[:compensate]"
    if point.endswith(":after") and step != "confirm":  # confirm calls nothing outside
        # The effect was made, the worker died before recording it: the step was tried again
        # with the same key, and the service gave the first answer without a second effect.
        assert requests[step] == 2, requests
    if point.endswith(":after:compensate"):  # the same for an undo
        assert ledger.snapshot()["compensation_requests"][f"{saga_id}:{step}"] == 2


def test_an_outage_is_ridden_out_within_the_deadline_and_past_it_compensated_none_lost(
    world: tuple[RealMode, str, EffectsLedger],
) -> None:
    real, url, ledger = world
    worker = real.stack.worker("outage", queues=QUEUES, env={**SETTINGS, **EVENTS_WORKER_ENV})
    try:
        outcomes: dict[str, Any] = {}
        for outage, expected in ((SHORT_OUTAGE, "completed"), (LONG_OUTAGE, "compensated")):
            ledger.down = True
            refused = ledger.refused_while_down
            ids = _start(real, url, count=5)
            time.sleep(outage)  # the service is down this long: tries keep failing meanwhile
            ledger.down = False
            states = _wait_finished(real, ids, timeout=120)
            outcomes[f"{outage}s"] = {
                "states": sorted(states.values()),
                "refused_while_down": ledger.refused_while_down - refused,
            }
            assert sorted(states.values()) == [expected] * len(ids), states
            assert ledger.refused_while_down > refused  # they did try meanwhile
            for saga_id, state in states.items():
                assert _consistent(ledger, saga_id, state) == [], saga_id
        report("saga outage", **outcomes)
    finally:
        worker.stop()
