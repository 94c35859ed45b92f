"""The signed-in account: profile, sessions, password, reset, deletion."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from apps.identity.models import Device, Session, User
from apps.identity.tests.factories import PASSWORD, login, user_create
from cleave.background import background_drain
from cleave.celery import app as celery_app
from cleave.events import captured_events
from contracts.identity import UserDeleted, UserUpdated

pytestmark = pytest.mark.django_db(transaction=True)
NEW_PASSWORD = "another long passphrase 42"


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    # Real mode sends tasks to the broker; run them here so the mail lands in mail.outbox.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def test_me_update_changes_the_profile_and_publishes_it() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    with captured_events() as events:
        response = signed.send(
            "patch", "/api/v1/me", {"display_name": "Ada L.", "timezone": "Europe/London"}
        )
    assert response.status_code == 200
    assert response.json()["display_name"] == "Ada L."
    assert response.json()["timezone"] == "Europe/London"
    (updated,) = events
    assert isinstance(updated, UserUpdated)
    assert updated.display_name == "Ada L."


def test_me_update_refuses_unknown_fields_and_time_zones() -> None:
    user_create(email="ada@example.com")
    signed = login("ada@example.com")
    unknown = signed.send("patch", "/api/v1/me", {"display_name": "A", "is_staff": True})
    assert unknown.status_code == 422
    assert [d["loc"] for d in unknown.json()["error"]["details"]] == [
        ["body", "payload", "is_staff"]
    ]
    bad_zone = signed.send("patch", "/api/v1/me", {"timezone": "Mars/Olympus"})
    assert bad_zone.status_code == 422
    assert not User.objects.filter(is_staff=True).exists()


def test_sessions_lists_only_your_live_sessions_with_their_devices() -> None:
    user_create(email="ada@example.com")
    user_create(email="bob@example.com")
    phone = login("ada@example.com", device_id="phone")
    login("ada@example.com", device_id="tablet")
    login("bob@example.com", device_id="bobs-phone")
    response = phone.get("/api/v1/sessions")
    assert response.status_code == 200
    body = response.json()
    assert sorted(item["device"]["device_id"] for item in body["items"]) == ["phone", "tablet"]
    assert [item["current"] for item in body["items"] if item["id"] == phone.session_id] == [True]
    assert body["next_cursor"] is None


def test_sessions_are_paginated_with_a_cursor() -> None:
    user_create(email="ada@example.com")
    for n in range(3):
        signed = login("ada@example.com", device_id=f"d{n}")
    first = signed.get("/api/v1/sessions?limit=2").json()
    assert len(first["items"]) == 2
    second = signed.get(f"/api/v1/sessions?limit=2&cursor={first['next_cursor']}").json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None


def test_you_can_revoke_your_other_session_but_not_someone_elses() -> None:
    user_create(email="ada@example.com")
    user_create(email="bob@example.com")
    phone = login("ada@example.com", device_id="phone")
    tablet = login("ada@example.com", device_id="tablet")
    bob = login("bob@example.com")

    stranger = bob.send("delete", f"/api/v1/sessions/{phone.session_id}")
    assert stranger.status_code == 404
    assert phone.get("/api/v1/me").status_code == 200

    assert phone.send("delete", f"/api/v1/sessions/{tablet.session_id}").status_code == 204
    assert tablet.get("/api/v1/me").json()["error"]["code"] == "session_revoked"


def test_password_change_signs_out_every_other_session() -> None:
    user_create(email="ada@example.com")
    phone = login("ada@example.com", device_id="phone")
    tablet = login("ada@example.com", device_id="tablet")
    wrong = phone.send(
        "post",
        "/api/v1/me/password",
        {"current_password": "nope", "new_password": NEW_PASSWORD},
    )
    assert wrong.json()["error"]["code"] == "wrong_password"
    changed = phone.send(
        "post",
        "/api/v1/me/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 204
    assert phone.get("/api/v1/me").status_code == 200
    assert tablet.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    login("ada@example.com", password=NEW_PASSWORD, device_id="laptop")


def _reset(client: Client, email: str) -> Any:
    return client.post(
        "/api/v1/auth/password-reset", {"email": email}, content_type="application/json"
    )


def test_password_reset_mails_a_single_use_link(client: Client, eager_tasks: None) -> None:
    user_create(email="ada@example.com")
    phone = login("ada@example.com")
    response = _reset(client, "ada@example.com")
    assert response.status_code == 202
    background_drain()
    [message] = mail.outbox
    assert message.to == ["ada@example.com"]
    uid_match = re.search(r"uid=([\w-]+)", str(message.body))
    token_match = re.search(r"token=([\w-]+)", str(message.body))
    assert uid_match, message.body
    assert token_match, message.body
    uid, token = uid_match.group(1), token_match.group(1)

    confirm = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}
    done = client.post(
        "/api/v1/auth/password-reset/confirm", confirm, content_type="application/json"
    )
    assert done.status_code == 204
    assert phone.get("/api/v1/me").json()["error"]["code"] == "session_revoked"
    login("ada@example.com", password=NEW_PASSWORD, device_id="new")
    again = client.post(
        "/api/v1/auth/password-reset/confirm", confirm, content_type="application/json"
    )
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "reset_token_invalid"


def test_password_reset_answers_alike_for_unknown_emails(client: Client, eager_tasks: None) -> None:
    user_create(email="ada@example.com")
    known = _reset(client, "ada@example.com")
    unknown = _reset(client, "nobody@example.com")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    background_drain()
    assert len(mail.outbox) == 1


def test_deleting_the_account_anonymises_it_and_tells_every_context() -> None:
    user = user_create(email="ada@example.com", roles=("moderator",))
    signed = login("ada@example.com")
    with captured_events() as events:
        assert signed.send("delete", "/api/v1/me").status_code == 204
    assert [e.user_id for e in events if isinstance(e, UserDeleted)] == [user.pk]
    user.refresh_from_db()
    assert (user.is_active, user.display_name, user.has_usable_password()) == (False, "", False)
    assert user.email == f"deleted-{user.pk}@deleted.invalid"
    assert not user.groups.exists()
    assert not Device.objects.exists()
    assert not Session.objects.filter(revoked_at__isnull=True).exists()
    assert signed.get("/api/v1/me").status_code == 401
    relogin = Client().post(
        "/api/v1/auth/login",
        {
            "email": "ada@example.com",
            "password": PASSWORD,
            "device": {"device_id": "x", "platform": "web", "app_version": "1"},
        },
        content_type="application/json",
    )
    assert relogin.json()["error"]["code"] == "invalid_credentials"


def test_me_shows_changes_at_once_although_it_is_cached() -> None:
    user = user_create(email="ada@example.com")
    signed = login("ada@example.com")
    assert signed.get("/api/v1/me").json()["display_name"] == "Ada"  # now cached
    signed.send("patch", "/api/v1/me", {"display_name": "Countess"})
    assert signed.get("/api/v1/me").json()["display_name"] == "Countess"

    admin_user = User.objects.create_superuser("root@example.com", PASSWORD)
    staff = Client()
    staff.force_login(admin_user)
    from django.contrib.auth.models import Group

    moderator = Group.objects.get_or_create(name="moderator")[0]
    form = {
        "email": user.email,
        "display_name": "Countess",
        "locale": "en",
        "timezone": "UTC",
        "is_active": "on",
        "groups": [moderator.pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    response = staff.post(f"/admin/identity/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    # A role change signs the user out (tokens carry roles); the next sign-in shows it.
    assert signed.get("/api/v1/me").status_code == 401
    assert login("ada@example.com").get("/api/v1/me").json()["roles"] == ["moderator", "user"]
