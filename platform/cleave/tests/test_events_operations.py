"""Operating the bus: admin screens, `manage.py events`, request ids in subscriber logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone

from cleave.events import publish
from cleave.events.models import FailedDelivery
from cleave.events.tasks import sweep_outbox
from cleave.gateway.request_id import current_request_id
from cleave.tests.example.contracts import OrderPlaced
from cleave.tests.example.orders.services import order_place
from cleave.tests.example.shipping.models import Outage, Shipment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _in_process() -> Iterator[None]:
    with override_settings(CLEAVE_EVENTS_INPROCESS=True, CLEAVE_EVENTS_MAX_ATTEMPTS=1):
        yield


@pytest.fixture
def dead_letter() -> FailedDelivery:
    Outage.objects.create(note="down")
    order_place(total=1, note="down")
    Outage.objects.all().delete()
    return FailedDelivery.objects.get(status="dead")


@pytest.fixture
def staff_client(client: Client) -> Client:
    user = get_user_model().objects.create_superuser("root@example.com", "pw-root-123456")
    client.force_login(user)
    return client


def test_admin_lists_outbox_inbox_and_dead_letters(
    staff_client: Client, dead_letter: FailedDelivery
) -> None:
    for model in ("outboxevent", "inboxentry", "faileddelivery"):
        response = staff_client.get(f"/admin/cleave/{model}/")
        assert response.status_code == 200, model
    page = staff_client.get("/admin/cleave/faileddelivery/?status__exact=dead").content.decode()
    assert "shipping.on_order_placed" in page
    assert "RuntimeError: shipping is down" in page


def test_admin_action_replays_dead_letters(
    staff_client: Client, dead_letter: FailedDelivery
) -> None:
    response = staff_client.post(
        "/admin/cleave/faileddelivery/",
        {"action": "replay_dead_letters", "_selected_action": [dead_letter.pk]},
    )
    assert response.status_code == 302
    FailedDelivery.objects.filter(pk=dead_letter.pk).update(next_attempt_at=timezone.now())
    call_command("events", "retry")
    assert Shipment.objects.filter(note="down").exists()
    assert not FailedDelivery.objects.exists()


def test_events_replay_command_redelivers_dead_letters(
    dead_letter: FailedDelivery, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(CommandError, match="name dead letter ids"):
        call_command("events", "replay")
    call_command("events", "replay", "--subscriber", "shipping.on_order_placed")
    assert "replayed 1 dead or parked event(s)" in capsys.readouterr().out
    assert Shipment.objects.filter(note="down").exists()


def test_events_status_reports_backlog_and_failures(
    dead_letter: FailedDelivery, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("events", "status")
    out = capsys.readouterr().out
    assert "[default] outbox pending: 0" in out
    assert "[default] dead: 1" in out


def test_the_publishing_request_id_is_on_the_subscribers_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    Outage.objects.create(note="logged")
    token = current_request_id.set("req-trace-7")
    try:
        with transaction.atomic():
            publish(OrderPlaced(aggregate_id="a", order_id=1, total=1, note="logged"))
            transaction.get_connection().run_on_commit.clear()  # delivered later, below
    finally:
        current_request_id.reset(token)
    assert current_request_id.get() == "-"
    with caplog.at_level(logging.WARNING, logger="cleave.events.parking"):
        sweep_outbox()  # another "process": no request of its own
    [record] = [r for r in caplog.records if r.name == "cleave.events.parking"]
    assert "dead letter" in record.getMessage()
    assert record.__dict__["request_id"] == "req-trace-7"  # set by the logging filter
