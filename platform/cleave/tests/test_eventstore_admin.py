"""The event store's admin: a read-only event browser with decoded payloads, the projections
screen with retry/skip actions (audited), and the auditor's view permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from cleave.eventstore import append, forget_subject
from cleave.eventstore.admin import grant_event_browser
from cleave.eventstore.models import ProjectionAudit, ProjectionCheckpoint, StoredEvent
from cleave.eventstore.subscriptions import catchup_projection
from cleave.tests.eventstore_fixtures import ledger, placed
from cleave.tests.example.orders.projections import CustomerLedgerProjection

pytestmark = pytest.mark.django_db(transaction=True)
__all__ = ["ledger"]


@pytest.fixture
def staff_client(client: Client) -> Client:
    user = get_user_model().objects.create_superuser("root@example.com", "pw-root-123456")
    client.force_login(user)
    return client


def test_the_event_browser_shows_decrypted_payloads_and_no_way_to_change_them(
    staff_client: Client,
) -> None:
    append(
        "orders.order-1", [placed("user:a", 12, city="Lyon", subject="user:a")], expected_version=0
    )
    append(
        "orders.order-2", [placed("user:b", 7, city="Nantes", subject="user:b")], expected_version=0
    )
    forget_subject("user:b")
    first, second = StoredEvent.objects.order_by("id")

    listing = staff_client.get("/admin/cleave/storedevent/")
    assert listing.status_code == 200
    assert "orders.order-1" in listing.content.decode()
    page = staff_client.get(f"/admin/cleave/storedevent/{first.pk}/change/").content.decode()
    assert "Lyon" in page  # decrypted with the subject's key
    assert "orders.order" in page  # its category
    forgotten = staff_client.get(f"/admin/cleave/storedevent/{second.pk}/change/").content.decode()
    assert "Nantes" not in forgotten
    assert "forgotten" in forgotten
    assert staff_client.get("/admin/cleave/storedevent/add/").status_code == 403
    assert staff_client.get(f"/admin/cleave/storedevent/{first.pk}/delete/").status_code == 403


def test_the_projections_screen_shows_the_parked_error_and_retries_it_audited(
    staff_client: Client, ledger: CustomerLedgerProjection
) -> None:
    append("orders.order-1", [placed("a", 1, poison=True)], expected_version=0)
    catchup_projection(ledger)
    row = ProjectionCheckpoint.objects.get(name=ledger.name)

    page = staff_client.get("/admin/cleave/projectioncheckpoint/").content.decode()
    assert "ValueError: cannot apply order at position" in page
    assert "1 event(s)" in page  # the lag

    ledger.healed = True
    response = staff_client.post(
        "/admin/cleave/projectioncheckpoint/",
        {"action": "retry_parked", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.parked_position is None
    audit = ProjectionAudit.objects.get()
    assert (audit.action, audit.actor) == ("retry", "staff:root@example.com")
    assert staff_client.get("/admin/cleave/projectionaudit/").status_code == 200


def test_an_auditor_role_granted_the_browser_sees_events_but_cannot_retry(
    client: Client, ledger: CustomerLedgerProjection
) -> None:
    grant_event_browser("order_auditor")
    auditor = get_user_model().objects.create_user("audit@example.com", "pw-audit-123456")
    auditor.is_staff = True
    auditor.save(update_fields=["is_staff"])
    auditor.groups.add(Group.objects.get(name="order_auditor"))
    client.force_login(auditor)
    append("orders.order-1", [placed("a", 1, poison=True)], expected_version=0)
    catchup_projection(ledger)
    row = ProjectionCheckpoint.objects.get(name=ledger.name)

    assert client.get("/admin/cleave/storedevent/").status_code == 200
    assert client.get("/admin/cleave/projectioncheckpoint/").status_code == 200
    client.post(
        "/admin/cleave/projectioncheckpoint/",
        {"action": "skip_parked", "_selected_action": [row.pk]},
    )
    row.refresh_from_db()
    assert row.parked_position is not None
    assert not ProjectionAudit.objects.exists()
