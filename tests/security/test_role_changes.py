"""Role changes take effect at once (issue 16, finding 4): a demoted staff user kept using the
ops API and deactivating accounts with the token minted while they were staff.

A role change goes through identity's service, which signs the user out everywhere, so no
token carries a role the user no longer (or not yet) has: the old token is refused, the next
sign-in carries the new roles. Roles are changed here as an administrator does it, through the
admin's change form.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from apps.identity.models import User
from apps.identity.services.roles import user_access_set
from apps.identity.tests.factories import login, user_create

pytestmark = pytest.mark.django_db(transaction=True)


def _admin() -> Client:
    client = Client()
    client.force_login(user_create(email="root@example.com", is_staff=True, is_superuser=True))
    return client


def _change_roles(admin: Client, user: User, *, is_staff: bool, groups: list[str]) -> None:
    """Submit the admin's change form of `user` with these roles (the rest unchanged)."""
    data: dict[str, Any] = {
        "email": user.email,
        "display_name": user.display_name,
        "locale": user.locale,
        "timezone": user.timezone,
        "is_active": "on",
        "groups": [Group.objects.get_or_create(name=name)[0].pk for name in groups],
    }
    if is_staff:
        data["is_staff"] = "on"
    response = admin.post(f"/admin/identity/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_demoted_staff_user_is_refused_by_the_ops_api_and_moderation_at_once() -> None:
    staff = user_create(email="staff@example.com", is_staff=True, roles=("staff",))
    target = user_create(email="target@example.com")
    signed = login("staff@example.com")
    assert signed.get("/api/ops/").status_code == 200

    _change_roles(_admin(), staff, is_staff=False, groups=[])

    ops = signed.get("/api/ops/")
    assert ops.status_code == 401, ops.content
    deactivate = signed.send("post", f"/api/v1/users/{target.pk}/deactivate")
    assert deactivate.status_code == 401, deactivate.content
    assert deactivate.json()["error"]["code"] == "session_revoked"
    assert User.objects.get(pk=target.pk).is_active
    again = login("staff@example.com", device_id="phone-2")
    assert again.get("/api/ops/").status_code == 403
    assert again.get("/api/v1/me").json()["roles"] == ["user"]


def test_a_demoted_moderator_cannot_deactivate_with_the_old_token() -> None:
    moderator = user_create(email="mod@example.com", roles=("moderator",))
    target = user_create(email="target@example.com")
    signed = login("mod@example.com")
    _change_roles(_admin(), moderator, is_staff=False, groups=[])
    assert signed.send("post", f"/api/v1/users/{target.pk}/deactivate").status_code == 401
    assert User.objects.get(pk=target.pk).is_active


def test_a_promoted_users_old_token_does_not_carry_the_new_role_but_a_new_sign_in_does() -> None:
    user = user_create(email="new-mod@example.com")
    target = user_create(email="target@example.com")
    signed = login("new-mod@example.com")
    assert signed.get("/api/v1/me").json()["roles"] == ["user"]

    _change_roles(_admin(), user, is_staff=False, groups=["moderator"])

    old = signed.get("/api/v1/me")
    assert old.status_code == 401, old.content  # the old token is gone, not quietly stale
    promoted = login("new-mod@example.com", device_id="phone-2")
    assert promoted.get("/api/v1/me").json()["roles"] == ["moderator", "user"]
    assert promoted.send("post", f"/api/v1/users/{target.pk}/deactivate").status_code == 204


def test_a_demoted_staff_member_loses_the_admin_at_once() -> None:
    staff = user_create(email="staff@example.com", is_staff=True, is_superuser=True)
    victim = user_create(email="victim@example.com")
    browser = Client()
    browser.force_login(staff)
    assert browser.get("/admin/identity/user/").status_code == 200

    _change_roles(_admin(), staff, is_staff=False, groups=[])

    action = browser.post(
        "/admin/identity/user/",
        {"action": "deactivate_users", "_selected_action": [victim.pk]},
    )
    assert action.status_code == 302
    assert "/admin/login/" in action["Location"]
    assert User.objects.get(pk=victim.pk).is_active


def test_changing_only_permission_groups_or_the_profile_keeps_the_sessions() -> None:
    user = user_create(email="kept@example.com", roles=("moderator",))
    signed = login("kept@example.com")
    changed = user_access_set(
        user_id=user.pk,
        is_staff=False,
        is_superuser=False,
        group_ids=[
            Group.objects.get(name="moderator").pk,
            Group.objects.get_or_create(name="billing-readers")[0].pk,
        ],
    )
    assert changed is False
    assert signed.get("/api/v1/me").status_code == 200


def test_unticking_active_in_the_admin_form_signs_the_user_out() -> None:
    user = user_create(email="suspended@example.com")
    signed = login("suspended@example.com")
    target = user_create(email="target@example.com")
    admin = _admin()
    data = {
        "email": user.email,
        "display_name": user.display_name,
        "locale": user.locale,
        "timezone": user.timezone,
        "groups": [],
    }  # no "is_active": unticked
    assert admin.post(f"/admin/identity/user/{user.pk}/change/", data).status_code == 302
    assert not User.objects.get(pk=user.pk).is_active
    assert signed.get(f"/api/v1/users/{target.pk}").status_code == 401
