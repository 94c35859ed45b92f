"""Flags over HTTP: the mobile endpoint (ETag, anonymous devices), the ops API (permissions,
audit, canary steps, kill switch), and flags.changed reaching a live socket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from waffle.models import Switch

from cleave.auth.testing import token_signer
from cleave.flags.changes import flag_kill, flag_save
from cleave.flags.definitions import forget_definitions
from cleave.flags.models import Flag, FlagChange

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh() -> None:
    forget_definitions()


def _staff(*, can_change: bool) -> Client:
    user = get_user_model().objects.create_user(
        email="ops@example.com", password="pw-ops-12345", is_staff=True
    )
    if can_change:
        user.user_permissions.add(
            Permission.objects.get(codename="change_flag", content_type__app_label="cleave")
        )
    client = Client()
    client.force_login(user)
    return client


def test_apps_get_client_visible_flags_with_an_etag_and_304() -> None:
    flag_save(name="new-chat", changes={"everyone": True, "client_visible": True}, actor="t")
    flag_save(name="server-only", changes={"everyone": True}, actor="t")
    forget_definitions()
    with token_signer() as sign:
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {sign(user_id=5)}"}
        first = Client().get("/api/v1/flags?platform=ios&app_version=2.0.0", **auth)
        assert first.status_code == 200
        assert first.json()["flags"] == {
            "new-chat": {"value": True, "variant": None, "reason": "STATIC"}
        }
        again = Client().get(
            "/api/v1/flags?platform=ios&app_version=2.0.0", HTTP_IF_NONE_MATCH=first["ETag"], **auth
        )
    assert (again.status_code, again.content) == (304, b"")


def test_before_login_flags_are_evaluated_for_the_device() -> None:
    flag_save(name="onboarding", changes={"percent": 50, "client_visible": True}, actor="t")
    forget_definitions()
    answer = Client().get("/api/v1/flags?device_id=install-1").json()
    assert answer["flags"]["onboarding"]["reason"] == "SPLIT"
    missing = Client().get("/api/v1/flags")
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "validation_error")


def test_the_ops_api_refuses_non_staff_and_staff_without_the_permission() -> None:
    flag_save(name="canary", changes={"percent": 1}, actor="t")
    anonymous = Client().get("/api/ops/flags/", HTTP_ACCEPT="application/json")
    assert anonymous.status_code in {401, 403}
    viewer = _staff(can_change=False)
    assert viewer.get("/api/ops/flags/canary/").status_code == 200
    denied = viewer.patch("/api/ops/flags/canary/", {"percent": 5}, content_type="application/json")
    assert (denied.status_code, denied.json()["error"]["code"]) == (403, "forbidden")


def test_a_canary_is_stepped_and_killed_through_the_ops_api_with_an_audit_trail() -> None:
    flag_save(name="canary", changes={"percent": 1}, actor="t")
    ops = _staff(can_change=True)
    for step in (5, 25):
        response = ops.patch(
            "/api/ops/flags/canary/", {"percent": step}, content_type="application/json"
        )
        assert response.json()["percent"] == step
    bad = ops.patch(
        "/api/ops/flags/canary/", {"percent": 150, "colour": "red"}, content_type="application/json"
    )
    assert bad.status_code == 422
    killed = ops.post(
        "/api/ops/flags/canary/kill/", {"killed": True}, content_type="application/json"
    )
    assert killed.json() == {"name": "canary", "killed": True}
    trail = list(FlagChange.objects.filter(actor="ops@example.com").order_by("id"))
    assert [((c.before or {})["percent"], (c.after or {})["percent"]) for c in trail[:2]] == [
        (1.0, 5.0),
        (5.0, 25.0),
    ]
    assert (trail[2].before or {}).get("killed") is False
    assert (trail[2].after or {}).get("killed") is True
    forget_definitions()
    from cleave.flags.evaluation import FlagContext, evaluate

    assert evaluate("canary", FlagContext(user_id=1)).reason == "DISABLED"


def test_a_kill_with_a_json_array_body_is_a_validation_error_not_a_500() -> None:
    flag_save(name="canary", changes={"percent": 1}, actor="t")
    ops = _staff(can_change=True)
    response = ops.post("/api/ops/flags/canary/kill/", [True], content_type="application/json")
    assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")


def _admin() -> Client:
    admin_user = get_user_model().objects.create_superuser(
        email="root@example.com", password="pw-root-12345"
    )
    client = Client()
    client.force_login(admin_user)
    return client


ADMIN_FORM = {
    "name": "from-admin",
    "everyone": "",
    "percent": "10",
    "client_visible": "",
    "note": "",
    "platforms": "[]",
    "user_ids": "[7, 12]",
    "roles": '["moderator"]',
    "environments": "[]",
    "variants": "[]",
    "min_app_version": "",
    "max_app_version": "",
}


def test_the_admin_audits_flag_changes() -> None:
    admin = _admin()
    response = admin.post("/admin/cleave/flag/add/", ADMIN_FORM)
    assert response.status_code == 302, response.content.decode()[:3000]
    created = FlagChange.objects.get(flag_name="from-admin")
    assert created.after is not None
    assert (created.actor, created.before, created.after["percent"]) == (
        "root@example.com",
        None,
        10.0,
    )
    assert (created.after["user_ids"], created.after["roles"]) == ([7, 12], ["moderator"])
    assert json.dumps(created.after)

    pk = Flag.objects.get(name="from-admin").pk
    assert admin.get(f"/admin/cleave/flag/{pk}/change/").status_code == 200
    edited = {key: value for key, value in ADMIN_FORM.items() if key != "name"}
    response = admin.post(f"/admin/cleave/flag/{pk}/change/", {**edited, "percent": "20"})
    assert response.status_code == 302, response.content.decode()[:3000]
    step = FlagChange.objects.filter(flag_name="from-admin").latest("id")
    assert step.before is not None
    assert step.after is not None
    assert (step.before["percent"], step.after["percent"]) == (10.0, 20.0)


@pytest.mark.parametrize(
    ("field", "value"),
    [("user_ids", '["7"]'), ("user_ids", "[0]"), ("roles", '["owner"]'), ("platforms", '["tv"]')],
)
def test_the_admin_refuses_targets_the_evaluation_cannot_read(field: str, value: str) -> None:
    response = _admin().post("/admin/cleave/flag/add/", {**ADMIN_FORM, field: value})
    assert response.status_code == 200  # the form again, with the error
    assert not Flag.objects.filter(name="from-admin").exists()


def test_the_admins_bulk_actions_and_deletes_are_audited() -> None:
    flag_save(name="bulk", changes={"percent": 10}, actor="t")
    flag_kill(name="bulk", killed=True, actor="t")
    admin = _admin()
    pk = Flag.objects.get(name="bulk").pk
    admin.post(
        "/admin/cleave/flag/",
        {"action": "enable_for_everyone", "_selected_action": [pk]},
    )
    assert Flag.objects.get(name="bulk").everyone is True
    deleted = admin.post(f"/admin/cleave/flag/{pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    trail = list(
        FlagChange.objects.filter(flag_name="bulk", actor="root@example.com").order_by("id")
    )
    assert [((c.before or {}).get("everyone"), (c.after or {}).get("everyone")) for c in trail] == [
        (None, True),
        (True, None),
    ]
    assert trail[1].after is None
    assert not Switch.objects.filter(name="kill:bulk").exists()
