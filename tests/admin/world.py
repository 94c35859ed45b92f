"""A small world with a row in every admin screen, made the way the system makes it: accounts
through `users_create`, everything else through the public API (events delivered in-process),
a flag through its audited service, and a dead letter by a subscriber that really fails (the
kernel's example contexts: an outage makes shipping's subscriber raise)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client, override_settings

from apps.identity.services.roles import user_access_set
from cleave.app_versions.policy import policy_save
from cleave.events.models import FailedDelivery
from cleave.flags.changes import flag_kill, flag_save
from cleave.tests.example.orders.services import order_place
from cleave.tests.example.shipping.models import Outage

STAFF_EMAIL = "staff@example.com"
PASSWORD = "admin-world-password-1"
CANARY = "new_inbox"


@dataclass(frozen=True)
class World:
    ada: dict[str, Any]  # the login answer: access, refresh, session_id, user
    grace: dict[str, Any]
    conversation_id: str
    message_id: str
    dead_letter_id: int


def _api(access: str | None = None) -> Client:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {access}"} if access else {}
    return Client(REMOTE_ADDR="198.51.100.20", **headers)


def _ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in (statuses or (200, 201)), response.content
    return response.json() if response.content else None


def account(email: str, name: str, *, push_token: str) -> dict[str, Any]:
    call_command("users_create", email=email, password=PASSWORD, display_name=name, verified=True)
    device = {"device_id": f"{name}-phone", "platform": "ios", "app_version": "3.1.0"}
    answer = _ok(
        _api().post(
            "/api/v1/auth/login",
            {"email": email, "password": PASSWORD, "device": {**device, "push_token": push_token}},
            content_type="application/json",
        )
    )
    return dict(answer)


def world_make() -> World:
    """The world, with events delivered in-process as embedded mode delivers them: in real
    mode the subscribers' rows (devices, inbox items, mirrored blocks) would otherwise wait
    for an events worker this test process does not run."""
    with override_settings(CLEAVE_EVENTS_INPROCESS=True):
        return _world_make()


def _world_make() -> World:
    get_user_model().objects.create_superuser(STAFF_EMAIL, PASSWORD, display_name="Staff")
    ada = account("ada@example.com", "Ada", push_token="ada-token-" + "a" * 40)
    grace = account("grace@example.com", "Grace", push_token="grace-token-" + "g" * 40)
    linus = account("linus@example.com", "Linus", push_token="linus-token-" + "l" * 40)
    as_ada = _api(ada["access"])
    direct = _ok(
        as_ada.post(
            "/api/v1/conversations",
            {"kind": "direct", "members": [grace["user"]["id"]]},
            content_type="application/json",
        )
    )
    message = _ok(
        as_ada.post(
            f"/api/v1/conversations/{direct['id']}/messages",
            {"text": "an offending message", "client_msg_id": "m-1"},
            content_type="application/json",
        )
    )
    group = _ok(
        as_ada.post(
            "/api/v1/conversations",
            {"kind": "group", "title": "Book club", "members": [grace["user"]["id"]]},
            content_type="application/json",
        )
    )
    assert group["id"]
    _ok(as_ada.post(f"/api/v1/users/{linus['user']['id']}/block"), 204)
    # Roles are groups; their rows come from a migration, which a transactional test's flush
    # empties, so the world makes the one it gives.
    moderators, _ = Group.objects.get_or_create(name="moderator")
    user_access_set(user_id=linus["user"]["id"], group_ids=[moderators.pk])
    flag_save(name=CANARY, changes={"percent": 5, "client_visible": True}, actor="world")
    flag_kill(name=CANARY, killed=False, actor="world")  # its kill switch, armed but off
    # Android apps older than 1.0.0 are told to update (the world's apps are iOS 3.1.0).
    policy_save(
        platform="android",
        changes={
            "minimum_version": "1.0.0",
            "recommended_version": "1.2.0",
            "store_url": "https://play.google.com/store/apps/details?id=app.cleave",
        },
        actor="world",
    )
    with override_settings(CLEAVE_EVENTS_INPROCESS=True, CLEAVE_EVENTS_MAX_ATTEMPTS=1):
        Outage.objects.create(note="down")
        order_place(total=1, note="down")
        Outage.objects.all().delete()
    dead = FailedDelivery.objects.get(status="dead")
    return World(
        ada=ada,
        grace=grace,
        conversation_id=str(direct["id"]),
        message_id=str(message["id"]),
        dead_letter_id=dead.pk,
    )
