"""Issue 21's guarantee for ticketing's purchase saga: `kill -9` of the worker running it at
every step boundary — before and after each step's side effect, and each compensation's —
always ends consistent. Either the order completed (tickets issued once, the payment captured
exactly once, nothing refunded), or it was cancelled (no valid ticket, the hold released or
expired, and no money kept: the authorization cancelled, or the capture refunded once). The
fake Stripe server, a process of its own that payments talks to over HTTP with the stripe
client, counts captures and refunds per idempotency key: never two captures, never a refund
without a capture.

The kill points come from the saga's definition (`PURCHASE.kill_points()`). Forward points
run a purchase with a saved card (the saga goes from the hold to OrderCompleted without
waiting for the app). Compensation points run a purchase whose hold lapses before the buyer
confirms: the capture succeeds, the tickets cannot be issued, and every compensation runs (void
the tickets, refund, release). Bounded (`make test-faults-bounded`, CI): 4 points and a 10 s
provider outage; full (`make test-faults`): every point, outages of 30 s and 150 s.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from cleave.testing.processes import free_port
from cleave.testing.servers import running_server
from tests.faults.components import EVENTS_WORKER_ENV, RealMode, real_mode, run_python
from tests.faults.conftest import BOUNDED
from tests.faults.probes import report

SAGA = "ticketing.purchase"
FORWARD = ["hold", "intent", "confirm", "capture", "issue", "notify"]
COMPENSATED = ["hold", "intent", "issue"]
ALL_POINTS = [f"{SAGA}:{s}:{w}" for s in FORWARD for w in ("before", "after")] + [
    f"{SAGA}:{s}:{w}:compensate" for s in COMPENSATED for w in ("before", "after")
]
BOUNDED_POINTS = [
    f"{SAGA}:intent:after", f"{SAGA}:capture:after",
    f"{SAGA}:intent:after:compensate", f"{SAGA}:issue:before:compensate",
]  # fmt: skip
POINTS = BOUNDED_POINTS if BOUNDED else ALL_POINTS
# The saga's steps and ticketing's subscribers; payments' queue; beat's tasks (the outbox
# relay's and the saga sweeper's).
QUEUES = ["events.ticketing", "events.payments", "celery"]
SECRET_KEY = "sk_test_faults_purchase"
WEBHOOK_SECRET = "whsec_faults_purchase"


class Stripe:
    def __init__(self, base: str) -> None:
        self.base = base

    def control(self, **orders: Any) -> None:
        """Make the provider misbehave (apps.payments.testing.fake_stripe: down_seconds, …)."""
        request = urllib.request.Request(  # noqa: S310 - loopback
            f"{self.base}/_control", data=json.dumps(orders).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - loopback
            pass

    def ledger(self, order_id: str) -> dict[str, dict[str, int]]:
        """The provider's captures and refunds whose idempotency key names the order."""
        with urllib.request.urlopen(f"{self.base}/_inspect", timeout=5) as answer:  # noqa: S310 - loopback
            found = json.loads(answer.read())
        return {
            kind: {key: n for key, n in found[kind].items() if order_id in key}
            for kind in ("captures", "refunds")
        }


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[RealMode, Stripe, str]]:
    port = free_port()
    command = [sys.executable, "-m", "apps.payments.testing.fake_stripe", "--port", str(port)]
    env = {"FAKE_STRIPE_SECRET_KEY": SECRET_KEY, "FAKE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    with running_server(command, port=port, env=env, ready_path="/_health") as base, real_mode(
        CLEAVE_PAYMENTS_PROVIDER="stripe", CLEAVE_STRIPE_API_BASE=base,
        CLEAVE_STRIPE_SECRET_KEY=SECRET_KEY, CLEAVE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        CLEAVE_PAYMENTS_TEST_CONFIRM="1", CLEAVE_STRIPE_TIMEOUT_SECONDS="5",
    ) as real:  # fmt: skip
        real.stack.beat()
        category = _starter(real, "seed")
        yield real, Stripe(base), category


def _starter(real: RealMode, *args: str) -> str:
    return run_python(real.env, "tests.faults.purchase_starter", *args).strip().splitlines()[-1]


def _state(real: RealMode, order_id: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(_starter(real, "state", order_id))
    return found


def _saga_state(real: RealMode, order_id: str) -> str:
    rows = real.pg.query("SELECT state FROM cleave_sagarun WHERE id::text = %s", [order_id])
    return str(rows[0][0]) if rows else ""


def _wait_saga(real: RealMode, order_id: str, states: tuple[str, ...], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (state := _saga_state(real, order_id)) in states:
            return state
        time.sleep(0.25)
    return _saga_state(real, order_id)


def _consistent(state: dict[str, Any], ledger: dict[str, dict[str, int]]) -> list[str]:
    """What is wrong with the order's end state (empty: consistent)."""
    wrong = [f"{key} captured {n} times" for key, n in ledger["captures"].items() if n > 1]
    wrong += [f"{key} refunded {n} times" for key, n in ledger["refunds"].items() if n > 1]
    wrong += [f"invariant: {v}" for v in state["violations"]]
    if len(ledger["refunds"]) > len(ledger["captures"]):
        wrong.append("a refund without a capture")
    if state["saga"] == "completed":
        if state["order"] != "completed" or state["tickets_valid"] != 2:
            wrong.append(f"completed with order {state['order']}, {state['tickets_valid']} tickets")
        if len(ledger["captures"]) != 1 or ledger["refunds"]:
            wrong.append(f"completed with money {ledger}")
    elif state["saga"] == "compensated":
        if state["order"] != "cancelled" or state["tickets_valid"]:
            wrong.append(f"cancelled with order {state['order']}, {state['tickets_valid']} tickets")
        if state["hold"] not in (None, "released", "expired"):
            wrong.append(f"hold left {state['hold']}")
        if len(ledger["captures"]) != len(ledger["refunds"]):
            wrong.append(f"money kept: {ledger}")
    else:
        wrong.append(f"ended {state['saga']!r}")
    return wrong


def test_the_purchase_sagas_kill_points_are_the_ones_its_definition_lists() -> None:
    import django

    django.setup()
    from cleave.sagas import sagas

    assert sorted(sagas.get(SAGA).kill_points()) == sorted(ALL_POINTS)


@pytest.mark.parametrize("point", POINTS)
def test_a_worker_killed_at_a_purchase_kill_point_leaves_the_order_consistent(
    world: tuple[RealMode, Stripe, str], point: str
) -> None:
    real, stripe, category = world
    compensating = point.endswith(":compensate")
    name = point.split(":", 1)[1].replace(":", "-")
    killed = real.stack.worker(
        f"killed-{name}", queues=QUEUES,
        env={**EVENTS_WORKER_ENV, "CLEAVE_SAGA_KILL_AT": point},
    )  # fmt: skip
    if compensating:
        # The buyer confirms after the hold lapsed: capture, then the tickets cannot be issued.
        order_id = _starter(real, "place", category)
        assert _wait_saga(real, order_id, ("waiting",), 60) == "waiting"
        assert _starter(real, "expire", order_id) == "1"
        assert _starter(real, "confirm", order_id) == "requires_capture"
    else:
        order_id = _starter(real, "place", category, "--method", "pm_card_visa")
    killed.popen.wait(timeout=120)  # type: ignore[union-attr]
    assert killed.popen.returncode == -9, "the worker never reached the kill point"  # type: ignore[union-attr]
    at_kill = _saga_state(real, order_id)
    started = time.monotonic()
    survivor = real.stack.worker(f"after-{name}", queues=QUEUES, env=EVENTS_WORKER_ENV)
    try:
        end = _wait_saga(real, order_id, ("completed", "compensated", "failed"), 150)
    finally:
        survivor.stop()
    state, ledger = _state(real, order_id), stripe.ledger(order_id)
    report(
        "purchase kill point", point=point, state_at_kill=at_kill, end_state=end,
        finished_after_restart_s=round(time.monotonic() - started, 1), order=state["order"],
        reason=state["reason"], captures=ledger["captures"], refunds=ledger["refunds"],
    )  # fmt: skip
    assert end == ("compensated" if compensating else "completed"), state
    assert _consistent(state, ledger) == []
    if compensating:
        assert state["reason"] == "hold_expired"
        assert len(ledger["refunds"]) == 1  # the capture that could not become tickets


# The intent step gives up after 90 s: the long outage outlasts it for the last order placed too.
SHORT_OUTAGE, LONG_OUTAGE = (10, None) if BOUNDED else (30, 150)


def test_a_provider_outage_is_ridden_out_and_one_past_the_deadline_compensated_none_lost(
    world: tuple[RealMode, Stripe, str],
) -> None:
    """The provider away for a while: purchases retry within their steps' deadlines and then
    complete; away for longer than the intent step's deadline (90 s): they give up and are
    cancelled, nothing charged. None is left unfinished."""
    real, stripe, category = world
    worker = real.stack.worker("outage", queues=QUEUES, env=EVENTS_WORKER_ENV)
    outcomes: dict[str, Any] = {}
    try:
        for outage, expected in ((SHORT_OUTAGE, "completed"), (LONG_OUTAGE, "compensated")):
            if outage is None:
                continue
            stripe.control(down_seconds=outage)
            started = time.monotonic()
            ids = [_starter(real, "place", category, "--method", "pm_card_visa") for _ in range(3)]
            # Past the deadline, the compensation asks the provider again (a saved card's create
            # may have authorized unseen) and waits for it too: its backoff, after the outage.
            wait = 120 if expected == "completed" else 420
            finished = ("completed", "compensated", "failed")
            ends = {i: _wait_saga(real, i, finished, wait) for i in ids}
            outcomes[f"{outage}s"] = {
                "ends": sorted(ends.values()),
                "finished_after_s": round(time.monotonic() - started, 1),
            }
            assert sorted(ends.values()) == [expected] * len(ids), ends
            for order_id in ids:
                state, ledger = _state(real, order_id), stripe.ledger(order_id)
                assert _consistent(state, ledger) == [], (order_id, state, ledger)
                if expected == "compensated":
                    # Tries used up, or the deadline reached first (the sweeper decides it).
                    assert state["reason"] in ("failed", "timeout"), state
        report("purchase outage", **outcomes)
    finally:
        worker.stop()
