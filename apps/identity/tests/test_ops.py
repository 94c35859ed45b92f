"""identity's ops actions with a staff access token: the admin's history names the staff
account the token belongs to (DRF's `request.user` is the token's principal)."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry

from apps.identity.models import User
from apps.identity.tests.factories import login, user_create

pytestmark = pytest.mark.django_db


def test_vouching_for_an_address_with_a_staff_token_is_recorded_under_that_account() -> None:
    staff = user_create(email="support@example.com", roles=("staff",))
    target = user_create(email="unverified@example.com", email_verified_at=None)

    response = login("support@example.com").send(
        "post", f"/api/ops/users/{target.pk}/verify-email/"
    )

    assert response.status_code == 200, response.content
    assert User.objects.get(pk=target.pk).email_verified_at is not None
    entry = LogEntry.objects.get(object_id=str(target.pk))
    assert entry.user_id == staff.pk
