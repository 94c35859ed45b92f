"""The admin flows of every context, clicked through in a real browser (Chromium) against a
live server: sign in, find a user, revoke a session, moderate a message, replay a dead letter,
step a flag canary. Each flow checks its effect where a user would see it (the API, the
delivered event, the audit log), not only the admin's message."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from cleave.events.models import FailedDelivery
from cleave.flags.models import Flag, FlagChange
from cleave.tests.example.shipping.models import Shipment
from tests.admin.world import CANARY, PASSWORD, STAFF_EMAIL, World, world_make

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world() -> World:
    return world_make()


@pytest.fixture
def admin_page(page: Any, live_server: Any, world: World) -> Any:
    """The browser, signed in as staff through the admin's own sign-in form."""
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", STAFF_EMAIL)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#logout-form")  # signed in: the user tools offer to sign out
    assert page.url == f"{live_server.url}/admin/"
    assert "Cleave admin" in page.title()
    page.base = live_server.url
    return page


def _open(page: Any, name: str, query: str = "") -> None:
    page.goto(f"{page.base}{reverse(name)}{query}")


def _run_action(page: Any, row_text: str, action: str) -> str:
    """Tick the row showing `row_text`, run `action`, return the admin's message."""
    page.locator("#result_list tbody tr", has_text=row_text).locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")
    return str(page.locator("ul.messagelist li").first.inner_text())


def _api(access: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Bearer {access}")


def test_sign_in_and_find_a_user(admin_page: Any) -> None:
    _open(admin_page, "admin:identity_user_changelist")
    admin_page.fill("#searchbar", "grace")
    admin_page.press("#searchbar", "Enter")
    admin_page.wait_for_selector("#result_list")
    rows = admin_page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "grace@example.com" in rows.first.inner_text()


def test_revoke_a_session_signs_the_phone_out(admin_page: Any, world: World) -> None:
    assert _api(world.grace["access"]).get("/api/v1/me").status_code == 200
    _open(admin_page, "admin:identity_session_changelist", "?q=grace")
    message = _run_action(admin_page, "grace", "revoke_sessions")
    assert message == "1 session(s) revoked."
    refused = _api(world.grace["access"]).get("/api/v1/me")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "session_revoked"
    assert _api(world.ada["access"]).get("/api/v1/me").status_code == 200  # only grace's


def test_moderate_a_message_leaves_a_tombstone(admin_page: Any, world: World) -> None:
    _open(admin_page, "admin:messaging_message_changelist", "?q=offending")
    message = _run_action(admin_page, world.message_id, "delete_for_moderation")
    assert message == "1 message(s) deleted."
    listed = _api(world.grace["access"]).get(
        f"/api/v1/conversations/{world.conversation_id}/messages"
    )
    [shown] = [m for m in listed.json()["items"] if str(m["id"]) == world.message_id]
    assert shown["deleted"] is True
    assert "offending" not in listed.content.decode()


def test_replay_a_dead_letter_delivers_it(admin_page: Any, world: World) -> None:
    _open(admin_page, "admin:cleave_faileddelivery_changelist", "?status__exact=dead")
    message = _run_action(admin_page, "shipping.on_order_placed", "replay_dead_letters")
    assert message == "1 dead letter(s) or parked event(s) queued for redelivery."
    assert FailedDelivery.objects.get(pk=world.dead_letter_id).status == "retrying"
    call_command("events", "retry")  # what the beat's sweeper runs every few seconds
    assert Shipment.objects.filter(note="down").exists()
    assert not FailedDelivery.objects.filter(pk=world.dead_letter_id).exists()


def test_step_a_flag_canary_is_audited(admin_page: Any) -> None:
    flag = Flag.objects.get(name=CANARY)
    _open(admin_page, "admin:cleave_flag_changelist")
    admin_page.click(f"#result_list a:text-is('{CANARY}')")
    admin_page.fill("#id_percent", "25")
    admin_page.click("input[name=_save]")
    admin_page.wait_for_selector("ul.messagelist li.success")
    flag.refresh_from_db()
    assert float(flag.percent) == 25.0
    change = FlagChange.objects.filter(flag_name=CANARY).first()
    assert change is not None
    assert change.actor == STAFF_EMAIL
    assert (change.before["percent"], change.after["percent"]) == (5.0, 25.0)
