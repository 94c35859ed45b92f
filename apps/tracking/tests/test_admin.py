"""tracking's admin: consent changes go through the service (audited, trips and shares end),
geofences are staff's, and the auditor role may browse the event store."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from apps.tracking.models import Consent, ConsentChange, Share
from apps.tracking.roles import AUDITOR
from apps.tracking.tests.conftest import at
from cleave import contexts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff() -> Client:
    # identity's user model when identity is hosted here, Django's own when tracking runs alone.
    user_model = get_user_model()
    root = user_model.objects.create_superuser(
        **{user_model.USERNAME_FIELD: "root@example.com", "password": "x" * 20}
    )
    client = Client()
    client.force_login(root)
    return client


def test_revoking_consent_in_the_admin_is_audited_and_ends_shares(
    staff: Client, phone: Any
) -> None:
    ada = phone(1)
    ada.consent()
    ada.upload([at(1, 48.0, 2.0)])
    ada.request("post", "/shares", {"user_id": 2, "minutes": 5})
    answer = staff.post(
        "/admin/tracking/consent/",
        {"action": "revoke", "_selected_action": ["1"]},
    )
    assert answer.status_code == 302, answer.content[:300]
    assert Consent.objects.get(user_id=1).granted is False
    assert list(ConsentChange.objects.values_list("granted", "source").order_by("id")) == [
        (True, "api"),
        (False, "admin"),
    ]
    assert Share.objects.get().revoked_at is not None


def test_staff_define_geofences(staff: Client) -> None:
    answer = staff.post(
        "/admin/tracking/geofence/add/",
        {"name": "office", "lat": "48.0", "lon": "2.0", "radius_m": "150", "active": "on"},
    )
    assert answer.status_code == 302, answer.content[:500]


def test_the_auditor_role_may_view_the_event_browser_where_the_accounts_live() -> None:
    auditors = Group.objects.filter(name=AUDITOR).first()
    if contexts.edge_of(contexts.installed()) is None:  # tracking alone: groups live elsewhere
        assert auditors is None
        return
    assert auditors is not None
    granted = set(auditors.permissions.values_list("codename", flat=True))
    assert {"view_storedevent", "view_projectioncheckpoint"} <= granted
