"""A rolling restart of one service while users keep using the others (issue 21, "Deployed on
its own"): no request outside the restarted service fails, the restarted one serves throughout
and after, and (where the deployment sells: CLEAVE_E2E_PAYMENTS=1) every order accepted before,
during or after the restart completes.

The deployment says how its operator restarts a service: `CLEAVE_E2E_RESTART`, a command run
from the repository's root (`make split`'s is `.venv/bin/python manage.py split restart
ticketing`, as `.ci/run` sets it). Skipped where there is none: `make run` is one process.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from client import Api, User, expect, poll

RESTART = os.environ.get("CLEAVE_E2E_RESTART", "")
# A deployment whose provider answers (test_purchase.py): orders are bought across the restart.
PAYMENTS = os.environ.get("CLEAVE_E2E_PAYMENTS") == "1"
REPO = Path(__file__).resolve().parents[3]
RESTARTED = "ticketing"  # the service the command replaces; the others must not notice

pytestmark = pytest.mark.skipif(
    not RESTART, reason="no CLEAVE_E2E_RESTART: this deployment says of no way to restart"
)


class Load:
    """Requests of one kind in a loop on a thread of its own (its own connection), counting
    answers by status, and exceptions (connection reset, timeout) as errors."""

    def __init__(self, name: str, request: Callable[[Api], httpx.Response], pause: float):
        self.name, self.request, self.pause = name, request, pause
        self.answers: Counter[int] = Counter()
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"load-{name}", daemon=True)

    def start(self, api: Api) -> None:
        self.api = api
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                response = self.request(self.api)
                self.answers[response.status_code] += 1
                if response.status_code >= 400:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as error:
                self.errors.append(f"{type(error).__name__}: {error}")
            time.sleep(self.pause)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)


def test_a_rolling_restart_of_one_service_is_not_felt_by_the_others(
    base_url: str, api: Api, bob: User, erin: User
) -> None:
    # Bob's own group (erin is invited and never joins: nothing reaches her inbox).
    created = {"kind": "group", "members": [erin.id], "title": "restart"}
    conversation = expect(api.as_(bob).post("/api/v1/conversations", created), 201)["id"]
    messages = f"/api/v1/conversations/{conversation}/messages"

    def send(client: Api) -> httpx.Response:
        return client.post(messages, {"text": "still here", "client_msg_id": uuid.uuid4().hex})

    shows = expect(api.as_(bob).get("/api/v1/ticketing/shows"), 200)["items"]
    category = expect(api.as_(bob).get(f"/api/v1/ticketing/shows/{shows[0]['id']}"), 200)[
        "categories"
    ][0]["id"]
    orders: list[str] = []

    def buy(client: Api) -> httpx.Response:
        """An order with a saved card: its saga runs through ticketing's worker, replaced too."""
        body = {"category_id": category, "quantity": 1, "payment_method": "pm_card_visa"}
        answer = client.post(
            "/api/v1/ticketing/orders", body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        if answer.status_code == 201:
            orders.append(answer.json()["id"])
        return answer

    loads = [
        Load("identity", lambda client: client.get("/api/v1/me"), 0.05),
        Load("messaging", lambda client: client.get("/api/v1/conversations"), 0.05),
        # Within the send budget (20 per 10 s), which the restart must not change either.
        Load("messaging-send", send, 0.7),
        Load(RESTARTED, lambda client: client.get("/api/v1/ticketing/shows"), 0.05),
    ]
    if PAYMENTS:
        loads.append(Load("ticketing-orders", buy, 1.0))
    for load in loads:
        load.start(Api.connect(base_url).as_(bob))
    time.sleep(1.0)  # every loop has answered before the restart begins
    started = time.monotonic()
    restart = subprocess.run(  # the operator's command, from the environment
        shlex.split(RESTART), cwd=REPO, capture_output=True, text=True, timeout=180
    )
    took = time.monotonic() - started
    time.sleep(1.0)  # and after it ends
    for load in loads:
        load.finish()
    assert restart.returncode == 0, restart.stdout + restart.stderr

    by_name = {load.name: load for load in loads}
    for name in ("identity", "messaging", "messaging-send"):
        load = by_name[name]
        assert load.errors == [], f"{name} failed during {RESTARTED}'s restart: {load.errors[:5]}"
        assert sum(load.answers.values()) > took, f"{name} hardly ran: {load.answers}"
    # The restarted service itself: served throughout here too (SO_REUSEPORT: the new instance
    # accepts before the old one stops), and answers after the restart.
    assert by_name[RESTARTED].errors == [], by_name[RESTARTED].errors[:5]
    expect(api.as_(bob).get("/api/v1/ticketing/shows"), 200)
    if not PAYMENTS:
        return
    # Every order accepted before, during and after the restart completes: sagas wait in the
    # broker while the worker is replaced, and resume.
    assert len(orders) >= 3, by_name["ticketing-orders"].errors[:5]
    for order_id in orders:

        def finished(order_id: str = order_id) -> dict[str, Any] | None:
            order = expect(api.as_(bob).get(f"/api/v1/ticketing/orders/{order_id}"), 200)
            return order if order["status"] in ("completed", "cancelled") else None

        done = poll(finished, what=f"order {order_id} to finish", timeout=90)
        assert done["status"] == "completed", done
