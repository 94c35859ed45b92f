"""Staff tools (admin screens and actions), permission checks, and identity's contract calls."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group, Permission
from django.http import HttpRequest
from django.test import Client

from apps.identity.models import Session
from apps.identity.tests.factories import login, user_create
from cleave.auth.permissions import forget_permissions, permissions_of, require_permission
from cleave.contracts.registry import client
from cleave.errors import Forbidden
from contracts.identity import IDENTITY, IdentityService, UserGet, UsersGet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff() -> Client:
    admin = user_create(email="root@example.com", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(admin)
    return browser


def test_admin_screens_list_users_devices_sessions_and_keys(staff: Client) -> None:
    user_create(email="ada@example.com")
    login("ada@example.com")
    for path in ("user", "device", "session", "signingkey"):
        response = staff.get(f"/admin/identity/{path}/")
        assert response.status_code == 200, path
    assert "ada@example.com" in staff.get("/admin/identity/user/?q=ada").content.decode()
    assert "signing" in staff.get("/admin/identity/signingkey/").content.decode()


def test_the_admin_revoke_action_signs_a_session_out(staff: Client) -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    response = staff.post(
        "/admin/identity/session/",
        {"action": "revoke_sessions", "_selected_action": [signed.session_id]},
    )
    assert response.status_code == 302
    assert Session.objects.get(pk=signed.session_id).revoked_reason == "revoked_by_staff"
    assert signed.get("/api/v1/me").json()["error"]["code"] == "session_revoked"


def test_the_admin_marks_addresses_verified_through_the_service_and_records_who(
    staff: Client,
) -> None:
    ada = user_create(email="ada@example.com")
    response = staff.post(
        "/admin/identity/user/", {"action": "mark_emails_verified", "_selected_action": [ada.pk]}
    )
    assert response.status_code == 302
    ada.refresh_from_db()
    assert ada.email_verified_at is not None
    entry = LogEntry.objects.get(object_id=str(ada.pk))
    assert (entry.user.email, entry.change_message) == (
        "root@example.com",
        "Marked the e-mail verified (admin).",
    )
    assert login("ada@example.com").get("/api/v1/me").json()["email_verified"] is True
    listed = staff.get("/admin/identity/user/?email_verified_at__isempty=0").content.decode()
    assert "ada@example.com" in listed


def test_permissions_come_from_role_groups_and_are_required_by_the_dependency() -> None:
    moderator = user_create(email="mod@example.com", roles=("moderator",))
    plain = user_create(email="plain@example.com")
    perm = Permission.objects.get(codename="view_device", content_type__app_label="identity")
    Group.objects.get(name="moderator").permissions.add(perm)
    forget_permissions(moderator.pk)
    assert "identity.view_device" in permissions_of(moderator.pk)
    assert "identity.view_device" not in permissions_of(plain.pk)

    auth = require_permission("identity.view_device")
    mod_token = login("mod@example.com").access
    plain_token = login("plain@example.com", device_id="other").access
    assert auth.authenticate(HttpRequest(), mod_token).user_id == moderator.pk
    with pytest.raises(Forbidden, match="not allowed") as caught:
        auth.authenticate(HttpRequest(), plain_token)
    assert caught.value.code == "forbidden"


def test_contract_calls_get_many_profiles_and_check_status() -> None:
    ada = user_create(email="ada@example.com")
    gone = user_create(email="gone@example.com", is_active=False)
    identity = client(IDENTITY, IdentityService)
    profiles = identity.users_get(UsersGet(user_ids=[gone.pk, 999, ada.pk, ada.pk]))
    assert [p.id for p in profiles.users] == [gone.pk, ada.pk]
    assert identity.user_status(UserGet(user_id=ada.pk)).active is True
    status = identity.user_status(UserGet(user_id=gone.pk))
    assert (status.exists, status.active) == (True, False)
    assert identity.user_status(UserGet(user_id=999)).exists is False
