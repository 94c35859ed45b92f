"""Operating sagas: a compensation that gives up leaves the saga `failed` (counted, alerted);
staff retry it or compensate a saga by hand, from the admin or `manage.py sagas`, audited in
its timeline; the timeline shows every try."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from cleave.sagas import Retry, Step, StepContext, saga, saga_get, saga_signal, saga_start
from cleave.sagas.models import SagaLogEntry, SagaRun
from cleave.sagas.sweeper import sweep
from cleave.testing.effects import EffectsLedger
from cleave.tests.example.orders.sagas import CHECKOUT
from cleave.tests.saga_world import checkout_input, effects, in_process, later, sample

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["effects", "in_process"]

Served = tuple[str, EffectsLedger]


def _refund(ctx: StepContext) -> Any:
    refund = CHECKOUT.step("charge").compensation
    assert refund is not None
    return refund(ctx)


# The example's charge with a compensation that gives up after two tries.
FRAGILE = saga(
    "orders.fragile",
    Step("charge", action=CHECKOUT.step("charge").action, compensation=_refund,
         compensation_retry=Retry(attempts=2, base=0.0, cap=0.0)),
    Step("ship", action=CHECKOUT.step("ship").action, retry=Retry(attempts=1)),
)  # fmt: skip


def test_a_compensation_that_gives_up_leaves_the_saga_failed_until_staff_retry_it(
    effects: Served,
) -> None:
    url, ledger = effects
    failed = sample("cleave_sagas_failed_total", saga="orders.fragile", step="charge")
    ledger.compensations_down = True
    # Charged; ship declined; the refund is tried twice while refunds fail, then given up.
    broken = saga_start(FRAGILE, input=checkout_input(url, decline="ship"))
    run = SagaRun.objects.get(id=broken)
    assert run.state == "failed"
    assert "503" in run.error
    assert sample("cleave_sagas_failed_total", saga="orders.fragile", step="charge") == failed + 1
    assert sweep(now=later(3600)) == 0  # a failed saga waits for staff

    ledger.compensations_down = False
    call_command("sagas", "retry", str(broken), "--actor", "ops-jane", stdout=StringIO())
    assert saga_get(broken).state == "compensated"
    assert ledger.undone == {f"{broken}:charge": 1}
    retry = SagaLogEntry.objects.get(run_id=broken, kind="retry")
    assert retry.actor == "cli:ops-jane"


def test_retrying_a_completed_saga_is_refused(effects: Served) -> None:
    url, _ = effects
    saga_id = saga_start(FRAGILE, input=checkout_input(url))
    assert saga_get(saga_id).state == "completed"
    with pytest.raises(CommandError, match="is completed"):
        call_command("sagas", "retry", str(saga_id), stdout=StringIO())


def test_the_command_lists_shows_and_compensates_sagas(effects: Served) -> None:
    url, ledger = effects
    waiting = saga_start(CHECKOUT, input=checkout_input(url))
    out = StringIO()
    call_command("sagas", "list", "--state", "waiting", stdout=out)
    assert str(waiting) in out.getvalue()
    assert "orders.checkout" in out.getvalue()

    call_command(
        "sagas", "compensate", str(waiting), "--reason", "stuck order", "--actor", "ops", stdout=out
    )
    assert (saga_get(waiting).state, saga_get(waiting).reason) == ("compensated", "operator")
    shown = StringIO()
    call_command("sagas", "show", str(waiting), stdout=shown)
    text = shown.getvalue()
    for line in ("step reserve [action] done, 1 tries", "step charge [compensation] done",
                 "compensate by cli:ops stuck order", "compensated operator"):  # fmt: skip
        assert line in text, text
    with pytest.raises(CommandError, match="does not exist"):
        call_command("sagas", "show", "00000000-0000-0000-0000-000000000000", stdout=StringIO())


def test_staff_see_the_timeline_and_compensate_from_the_admin_audited(
    effects: Served, admin_client: Client, admin_user: Any
) -> None:
    url, ledger = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    page = admin_client.get(f"/admin/cleave/sagarun/{saga_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f"{saga_id}:charge" in html  # the idempotency key in the steps table
    assert "waiting" in html
    listing = admin_client.get("/admin/cleave/sagarun/")
    assert listing.status_code == 200
    assert "Compensate selected sagas" in listing.content.decode()

    answer = admin_client.post(
        "/admin/cleave/sagarun/",
        {"action": "compensate", "_selected_action": [str(saga_id)]},
    )
    assert answer.status_code == 302
    assert saga_get(saga_id).state == "compensated"
    entry = SagaLogEntry.objects.get(run_id=saga_id, kind="compensate")
    assert entry.actor == f"staff:{admin_user.email}"
    assert (
        admin_client.post(f"/admin/cleave/sagarun/{saga_id}/delete/", {"post": "yes"}).status_code
        == 403
    )


def test_staff_without_the_change_permission_see_sagas_but_cannot_act(effects: Served) -> None:
    url, _ = effects
    saga_id = saga_start(CHECKOUT, input=checkout_input(url))
    viewer = get_user_model().objects.create_user(
        email="viewer@example.com", password="pw-long-enough-1", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_sagarun"))
    client = Client()
    client.force_login(viewer)
    assert client.get(f"/admin/cleave/sagarun/{saga_id}/change/").status_code == 200
    listing = client.get("/admin/cleave/sagarun/").content.decode()
    assert "Compensate selected sagas" not in listing
    client.post(
        "/admin/cleave/sagarun/", {"action": "compensate", "_selected_action": [str(saga_id)]}
    )
    assert saga_get(saga_id).state == "waiting"
    saga_signal(saga_id, "payment_confirmed", {})
    assert saga_get(saga_id).state == "completed"
