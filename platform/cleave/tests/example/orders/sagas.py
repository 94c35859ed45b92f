"""The kernel's example saga (test settings only): check an order out against an outside
service (cleave.testing.effects) — reserve stock, take the payment, wait for the payment's
confirmation, ship. Every outside write carries the step's idempotency key; every compensation
names the effect it undoes and copes with one that never happened.

Input: {"order_id", "effects_url", "decline": "<step>" (the service refuses that step)}.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from cleave.sagas import Retry, Step, StepContext, StepFailed, saga
from cleave.sagas.definitions import Action


def _post(ctx: StepContext, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{ctx.input['effects_url']}{path}",
        json={"saga_id": str(ctx.saga_id), "step": ctx.step, **body},
        headers={"Idempotency-Key": key},
        timeout=5.0,
    )
    if response.status_code == 402:
        raise StepFailed("declined", details={"step": ctx.step})
    response.raise_for_status()  # 503 and the like: retried under the step's policy
    answer: dict[str, Any] = response.json()
    return answer


def _effect(kind: str) -> Action:
    def action(ctx: StepContext) -> dict[str, Any]:
        decline = ctx.input.get("decline") == ctx.step
        answer = _post(ctx, f"/effects/{kind}", ctx.idempotency_key, {"decline": decline})
        return {"effect": answer["effect"]}

    action.__name__ = f"{kind}_effect"
    return action


def _undo(kind: str) -> Action:
    def compensation(ctx: StepContext) -> dict[str, Any]:
        return _post(
            ctx, f"/compensations/{kind}", ctx.idempotency_key, {"effect_key": ctx.action_key}
        )

    compensation.__name__ = f"{kind}_undo"
    return compensation


def confirm(ctx: StepContext) -> dict[str, Any]:
    if not ctx.signal.get("ok", True):
        raise StepFailed("payment not confirmed")
    return {"confirmed": True}


# Short backoffs, so fault tests that take the service down see many tries within a deadline.
QUICK = Retry(attempts=30, base=0.2, cap=2.0)
QUICK_UNDO = Retry(attempts=60, base=0.2, cap=2.0)

CHECKOUT = saga(
    "orders.checkout",
    Step("reserve", action=_effect("stock"), compensation=_undo("stock"), retry=QUICK,
         compensation_retry=QUICK_UNDO, deadline=timedelta(seconds=30),
         attempt_timeout=timedelta(seconds=5)),
    Step("charge", action=_effect("payment"), compensation=_undo("payment"), retry=QUICK,
         compensation_retry=QUICK_UNDO, deadline=timedelta(seconds=30),
         attempt_timeout=timedelta(seconds=5)),
    Step("confirm", wait_for="payment_confirmed", action=confirm, deadline=timedelta(minutes=2),
         attempt_timeout=timedelta(seconds=5)),
    Step("ship", action=_effect("shipment"), retry=QUICK, deadline=timedelta(seconds=30),
         attempt_timeout=timedelta(seconds=5)),
)  # fmt: skip
