"""Every write in identity's admin goes through identity's services: the same events as the API,
the same effects (issue 18). Driven through the real admin URLs as a signed-in superuser."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from apps.identity.models import Device, Session, SigningKey, User
from apps.identity.tests.factories import PASSWORD, device, login, user_create
from cleave.auth.permissions import permissions_of
from cleave.contracts.base import Event
from cleave.events import captured_events
from contracts.identity import SessionRevoked, UserDeleted, UserRegistered, UserUpdated

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "a staff-chosen passphrase 77"


def _fields(event: Event, *names: str) -> tuple[Any, ...]:
    """An event's fields by name: `captured_events` yields the base type, whatever the event."""
    data = event.model_dump()
    return tuple(data[name] for name in names)


@pytest.fixture
def staff() -> Client:
    root = user_create(email="root@example.com", is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(root)
    return browser


def _change_form(user: User, **changes: Any) -> dict[str, Any]:
    """The change form as the admin renders it for `user`, with `changes` typed in."""
    form: dict[str, Any] = {
        "display_name": user.display_name,
        "locale": user.locale,
        "timezone": user.timezone,
        "groups": [group.pk for group in user.groups.all()],
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            form[flag] = "on"
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def _sign_in(email: str, password: str = PASSWORD) -> int:
    response = Client().post(
        "/api/v1/auth/login",
        {"email": email, "password": password, "device": device()},
        content_type="application/json",
    )
    return response.status_code


def test_editing_the_profile_publishes_user_updated_as_the_api_does(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = staff.post(
            f"/admin/identity/user/{ada.pk}/change/",
            _change_form(ada, display_name="Countess", timezone="Europe/Paris"),
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [(type(e), *_fields(e, "display_name", "timezone")) for e in events] == [
        (UserUpdated, "Countess", "Europe/Paris")
    ]
    me = signed.get("/api/v1/me").json()  # the session is untouched: no role changed
    assert (me["display_name"], me["timezone"]) == ("Countess", "Europe/Paris")


def test_saving_an_unchanged_user_publishes_nothing_and_keeps_the_sessions(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = staff.post(f"/admin/identity/user/{ada.pk}/change/", _change_form(ada))
    assert response.status_code == 302
    assert events == []
    assert signed.get("/api/v1/me").status_code == 200


def test_the_profile_is_checked_by_the_services_rules(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    with captured_events() as events:
        response = staff.post(
            f"/admin/identity/user/{ada.pk}/change/",
            _change_form(ada, display_name="Cleave Support", timezone="Mars/Olympus"),
        )
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"display_name", "timezone"}
    assert events == []
    assert User.objects.get(pk=ada.pk).display_name == "Ada"


def test_the_address_is_not_editable_in_the_admin(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    form = _change_form(ada, email="eve@example.com")
    assert staff.post(f"/admin/identity/user/{ada.pk}/change/", form).status_code == 302
    assert User.objects.get(pk=ada.pk).email == "ada@example.com"


def test_unticking_active_suspends_through_the_service_and_signs_out(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = staff.post(
            f"/admin/identity/user/{ada.pk}/change/", _change_form(ada, is_active=None)
        )
    assert response.status_code == 302
    assert [(type(e), *_fields(e, "session_id", "reason")) for e in events] == [
        (SessionRevoked, signed.session_id, "deactivated")
    ]
    assert signed.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    assert _sign_in("ada@example.com") == 401


def test_ticking_active_again_lets_the_account_sign_in(staff: Client) -> None:
    ada = user_create(email="ada@example.com", is_active=False)
    response = staff.post(
        f"/admin/identity/user/{ada.pk}/change/", _change_form(ada, is_active="on")
    )
    assert response.status_code == 302
    assert _sign_in("ada@example.com") == 200


def test_the_deactivate_action_signs_every_selected_user_out(staff: Client) -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = staff.post(
            "/admin/identity/user/",
            {"action": "deactivate_users", "_selected_action": [signed.user_id]},
        )
    assert response.status_code == 302
    assert [(type(e), *_fields(e, "reason")) for e in events] == [(SessionRevoked, "deactivated")]
    assert signed.get("/api/v1/me").json()["error"]["code"] == "session_revoked"


def test_adding_a_user_registers_it_through_the_service(staff: Client) -> None:
    form = {
        "email": "Grace@Example.com",
        "display_name": "Grace",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    with captured_events() as events:
        response = staff.post("/admin/identity/user/add/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    grace = User.objects.get(email="grace@example.com")  # stored as registration stores it
    assert response["Location"].endswith(f"/admin/identity/user/{grace.pk}/change/")
    assert [(type(e), *_fields(e, "user_id", "display_name")) for e in events] == [
        (UserRegistered, grace.pk, "Grace")
    ]
    assert login("grace@example.com").get("/api/v1/me").json()["email_verified"] is False


def test_adding_a_user_refuses_a_name_the_service_refuses(staff: Client) -> None:
    form = {
        "email": "eve@example.com",
        "display_name": "A d m i n",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    response = staff.post("/admin/identity/user/add/", form)
    assert response.status_code == 200
    assert set(response.context["adminform"].form.errors) == {"display_name"}
    assert not User.objects.filter(email="eve@example.com").exists()


def test_setting_a_password_signs_the_account_out_everywhere(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = staff.post(
            f"/admin/identity/user/{ada.pk}/password/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
        )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert [(type(e), *_fields(e, "reason")) for e in events] == [
        (SessionRevoked, "password_set_by_staff")
    ]
    assert signed.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    assert _sign_in("ada@example.com") == 401
    assert _sign_in("ada@example.com", NEW_PASSWORD) == 200


def test_the_delete_action_anonymises_the_account_and_publishes_user_deleted(
    staff: Client,
) -> None:
    ada = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    suspended = user_create(email="sus@example.com", is_active=False)
    with captured_events() as events:
        response = staff.post(
            "/admin/identity/user/",
            {"action": "delete_accounts", "_selected_action": [ada.pk, suspended.pk]},
        )
    assert response.status_code == 302
    assert sorted(e.user_id for e in events if isinstance(e, UserDeleted)) == sorted(
        [ada.pk, suspended.pk]
    )
    assert [e.reason for e in events if isinstance(e, SessionRevoked)] == ["account_deleted"]
    assert signed.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    assert set(
        User.objects.filter(pk__in=[ada.pk, suspended.pk]).values_list("email", flat=True)
    ) == {
        f"deleted-{ada.pk}@deleted.invalid",
        f"deleted-{suspended.pk}@deleted.invalid",
    }


def test_rows_only_services_write_cannot_be_added_edited_or_deleted_by_hand(
    staff: Client,
) -> None:
    ada = user_create(email="ada@example.com")
    login("ada@example.com")
    rows = {
        "device": Device.objects.get(user=ada).pk,
        "session": Session.objects.get(user=ada).pk,
        "signingkey": SigningKey.objects.get().pk,
    }
    for model, pk in rows.items():
        assert staff.get(f"/admin/identity/{model}/{pk}/change/").status_code == 200, model
        assert staff.post(f"/admin/identity/{model}/{pk}/change/", {}).status_code == 403, model
        deleted = staff.post(f"/admin/identity/{model}/{pk}/delete/", {"post": "yes"})
        assert deleted.status_code == 403, model
        assert staff.get(f"/admin/identity/{model}/add/").status_code == 403, model
    assert staff.post(f"/admin/identity/user/{ada.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Session.objects.filter(user=ada, revoked_at__isnull=True).exists()
    assert User.objects.filter(pk=ada.pk, email="ada@example.com").exists()


def test_the_revoke_action_publishes_session_revoked(staff: Client) -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        staff.post(
            "/admin/identity/session/",
            {"action": "revoke_sessions", "_selected_action": [signed.session_id]},
        )
    assert [(type(e), *_fields(e, "session_id", "reason")) for e in events] == [
        (SessionRevoked, signed.session_id, "revoked_by_staff")
    ]


def test_a_groups_new_permissions_apply_to_its_members_at_once(staff: Client) -> None:
    moderator = user_create(email="mod@example.com", roles=("moderator",))
    group = Group.objects.get(name="moderator")
    view_device = Permission.objects.get(codename="view_device", content_type__app_label="identity")
    assert "identity.view_device" not in permissions_of(moderator.pk)  # and now cached
    response = staff.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "renamed", "permissions": [view_device.pk]},  # the name is read-only
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert "identity.view_device" in permissions_of(moderator.pk)
    assert Group.objects.get(pk=group.pk).name == "moderator"
    assert staff.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"}).status_code == 403


def test_a_group_added_in_the_admin_has_its_permissions(staff: Client) -> None:
    view_device = Permission.objects.get(codename="view_device", content_type__app_label="identity")
    response = staff.post(
        "/admin/auth/group/add/", {"name": "device-readers", "permissions": [view_device.pk]}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    group = Group.objects.get(name="device-readers")
    assert list(group.permissions.values_list("codename", flat=True)) == ["view_device"]


def test_a_deleted_account_cannot_be_reactivated_or_edited(staff: Client) -> None:
    ada = user_create(email="ada@example.com")
    staff.post("/admin/identity/user/", {"action": "delete_accounts", "_selected_action": [ada.pk]})
    ada.refresh_from_db()
    assert staff.get(f"/admin/identity/user/{ada.pk}/change/").status_code == 200
    with captured_events() as events:
        response = staff.post(
            f"/admin/identity/user/{ada.pk}/change/",
            _change_form(ada, is_active="on", display_name="Back", is_staff="on"),
        )
    assert response.status_code == 302
    assert events == []
    ada.refresh_from_db()
    assert (ada.is_active, ada.display_name, ada.is_staff) == (False, "", False)
