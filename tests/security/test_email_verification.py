"""Finding 12 of the adversarial probe (issue 16): accounts were never asked to prove their address.

With verification required (real mode's default), an unverified account can sign in, verify and
change its address, but cannot start a conversation or be added to one. The link is signed,
expires, and names the address it was sent to: after a change, a link to the old address is
refused. Tests and benchmarks verify accounts through `manage.py users_verify` /
`users_create --verified` or the ops API, never by turning the requirement off.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.core import mail, signing
from django.core.management import call_command
from django.test import Client

from apps.identity.models import User
from apps.identity.tests.factories import PASSWORD, Signed, device, login, user_create
from cleave.celery import app as celery_app
from cleave.config import load

pytestmark = pytest.mark.django_db(transaction=True)
LINK = re.compile(r"[?&]token=([A-Za-z0-9:_\-]+)")


@pytest.fixture(autouse=True)
def required(settings: Any) -> None:
    """What real mode runs with (the test settings leave it off for tests not about it)."""
    settings.CLEAVE_REQUIRE_EMAIL_VERIFICATION = True


@pytest.fixture(autouse=True)
def eager_tasks() -> Iterator[None]:
    # Real mode sends the mail task to the broker; run it here so the mail lands in mail.outbox.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


def register(email: str) -> dict[str, Any]:
    body = {"email": email, "password": PASSWORD, "display_name": "New", "device": device()}
    response = Client(REMOTE_ADDR="10.0.0.9").post(
        "/api/v1/auth/register", body, content_type="application/json"
    )
    assert response.status_code == 201, response.content
    return dict(response.json())


def token_mailed_to(email: str) -> str:
    sent = [m for m in mail.outbox if m.to == [email]]
    assert sent, f"no mail to {email}: {[m.to for m in mail.outbox]}"
    match = LINK.search(sent[-1].body)
    assert match, sent[-1].body
    return match.group(1)


def verify(token: str) -> Any:
    return Client(REMOTE_ADDR="10.0.0.9").post(
        "/api/v1/auth/verify-email", {"token": token}, content_type="application/json"
    )


def start_direct(signed: Signed, other_id: int) -> Any:
    return signed.send("post", "/api/v1/conversations", {"kind": "direct", "members": [other_id]})


def verified(email: str) -> User:
    user = user_create(email=email)
    call_command("users_verify", email, stdout=StringIO())
    return user


def test_real_mode_requires_verification_by_default_and_embedded_mode_does_not() -> None:
    real = {
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/cleave",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "SECRET_KEY": "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMN",
    }
    assert load(real).require_email_verification is True
    assert load({}).require_email_verification is False
    explicit = {**real, "CLEAVE_REQUIRE_EMAIL_VERIFICATION": "false"}
    assert load(explicit).require_email_verification is False


def test_registration_mails_a_link_and_the_account_starts_unverified() -> None:
    created = register("new@example.com")
    assert created["user"]["email_verified"] is False
    assert token_mailed_to("new@example.com")
    me = Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {created['tokens']['access']}")
    assert me.status_code == 200  # an unverified account signs in and reads its profile
    assert me.json()["email_verified"] is False


def test_an_unverified_account_cannot_start_a_conversation_until_it_verifies() -> None:
    friend = verified("friend@example.com")
    register("new@example.com")
    signed = login("new@example.com")
    refused = start_direct(signed, friend.pk)
    assert refused.status_code == 403, refused.content
    assert refused.json()["error"]["code"] == "email_unverified"
    assert refused.json()["error"]["details"]["user_ids"] == [signed.user_id]

    assert verify(token_mailed_to("new@example.com")).status_code == 200
    assert start_direct(signed, friend.pk).status_code == 201


def test_an_unverified_account_cannot_be_put_into_a_conversation() -> None:
    verified("owner@example.com")
    stranger = user_create(email="unverified@example.com")
    owner = login("owner@example.com")
    direct = start_direct(owner, stranger.pk)
    assert direct.status_code == 403, direct.content
    assert direct.json()["error"]["code"] == "email_unverified"
    assert direct.json()["error"]["details"]["user_ids"] == [stranger.pk]

    friend = verified("friend@example.com")
    group = owner.send(
        "post", "/api/v1/conversations", {"kind": "group", "title": "g", "members": [friend.pk]}
    )
    assert group.status_code == 201, group.content
    added = owner.send(
        "post", f"/api/v1/conversations/{group.json()['id']}/members", {"user_id": stranger.pk}
    )
    assert added.status_code == 403, added.content
    assert added.json()["error"]["code"] == "email_unverified"


def test_the_link_verifies_once_and_again_is_harmless() -> None:
    register("new@example.com")
    token = token_mailed_to("new@example.com")
    first, again = verify(token), verify(token)
    assert (first.status_code, again.status_code) == (200, 200)
    assert first.json() == again.json() == {"email": "new@example.com", "email_verified": True}
    assert User.objects.get(email="new@example.com").email_verified_at is not None


def test_an_expired_or_tampered_link_is_refused_with_its_own_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register("new@example.com")
    token = token_mailed_to("new@example.com")
    four_days_later = time.time() + 4 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: four_days_later)  # Django's clock
    expired = verify(token)
    monkeypatch.undo()
    assert expired.status_code == 400
    assert expired.json()["error"]["code"] == "verification_expired"

    for forged in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "nonsense", "a:b:c"):
        refused = verify(forged)
        assert refused.status_code == 400, forged
        assert refused.json()["error"]["code"] == "verification_invalid"
    assert User.objects.get(email="new@example.com").email_verified_at is None


def test_an_unverified_account_changes_its_address_and_the_old_link_stops_working() -> None:
    register("old@example.com")
    old_token = token_mailed_to("old@example.com")
    signed = login("old@example.com")
    changed = signed.send(
        "post", "/api/v1/me/email", {"email": "New@Example.com", "password": PASSWORD}
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["email"], changed.json()["email_verified"]) == (
        "new@example.com",
        False,
    )

    stale = verify(old_token)
    assert stale.status_code == 400
    assert stale.json()["error"]["code"] == "verification_invalid"
    assert verify(token_mailed_to("new@example.com")).status_code == 200


def test_a_queued_mail_for_an_address_the_account_left_is_not_sent() -> None:
    """The task carries the account and the address, not the token (nothing secret in the
    broker or a failed task's log line); it makes the token when it runs, for that address
    only while the account still has it."""
    from apps.identity.tasks import email_verification_mail_send

    user = user_create(email="old@example.com")
    User.objects.filter(pk=user.pk).update(email="new@example.com")
    email_verification_mail_send(user.pk, "old@example.com")
    assert mail.outbox == []
    email_verification_mail_send(user.pk, "new@example.com")
    assert verify(token_mailed_to("new@example.com")).status_code == 200


def test_changing_a_verified_address_needs_the_password_and_resets_verification() -> None:
    verified("ada@example.com")
    signed = login("ada@example.com")
    wrong = signed.send("post", "/api/v1/me/email", {"email": "x@example.com", "password": "no"})
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "wrong_password"
    user_create(email="taken@example.com")
    taken = signed.send(
        "post", "/api/v1/me/email", {"email": "taken@example.com", "password": PASSWORD}
    )
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "email_taken"

    changed = signed.send(
        "post", "/api/v1/me/email", {"email": "ada2@example.com", "password": PASSWORD}
    )
    assert changed.json()["email_verified"] is False
    assert start_direct(signed, verified("friend@example.com").pk).status_code == 403


def test_a_new_link_is_sent_on_request_a_few_times_an_hour() -> None:
    register("new@example.com")
    signed = login("new@example.com")
    answers = [signed.send("post", "/api/v1/me/email/verification") for _ in range(6)]
    assert [a.status_code for a in answers] == [202, 202, 202, 202, 202, 429]
    assert len([m for m in mail.outbox if m.to == ["new@example.com"]]) == 1 + 5

    assert verify(token_mailed_to("new@example.com")).status_code == 200
    done = verified("done@example.com")
    already = login(done.email).send("post", "/api/v1/me/email/verification")
    assert already.status_code == 409
    assert already.json()["error"]["code"] == "email_already_verified"


def test_the_command_creates_verified_users_and_verifies_existing_ones() -> None:
    out = StringIO()
    call_command(
        "users_create",
        "--email",
        "made@example.com",
        "--password",
        PASSWORD,
        "--verified",
        stdout=out,
    )
    made = User.objects.get(email="made@example.com")
    assert made.email_verified_at is not None
    assert made.check_password(PASSWORD)
    assert mail.outbox == []  # vouched for: no link to open

    plain = user_create(email="plain@example.com")
    call_command("users_verify", "plain@example.com", stdout=out)
    plain.refresh_from_db()
    assert plain.email_verified_at is not None
    assert start_direct(login("made@example.com"), plain.pk).status_code == 201


def test_staff_mark_an_account_verified_through_the_ops_api_and_it_is_audited() -> None:
    staff = user_create(email="staff@example.com", is_staff=True)
    target = user_create(email="target@example.com")
    nobody = login(verified("nobody@example.com").email)
    path = f"/api/ops/users/{target.pk}/verify-email/"

    forbidden = nobody.send("post", path)
    assert forbidden.status_code == 403
    assert User.objects.get(pk=target.pk).email_verified_at is None

    done = login(staff.email).send("post", path)
    assert done.status_code == 200, done.content
    assert done.json() == {"id": target.pk, "email": "target@example.com", "email_verified": True}
    assert User.objects.get(pk=target.pk).email_verified_at is not None
    entry = LogEntry.objects.get(object_id=str(target.pk))
    assert (entry.user_id, entry.change_message) == (
        staff.pk,
        "Marked the e-mail verified (ops API).",
    )
    missing = login(staff.email, device_id="phone-2").send(
        "post", "/api/ops/users/999999/verify-email/"
    )
    assert missing.status_code == 404


def test_other_contexts_learn_the_fact_through_the_contract() -> None:
    from cleave.contracts.registry import client
    from contracts.identity import IDENTITY, IdentityService, UserGet, UsersGet

    plain, done = user_create(email="plain@example.com"), verified("done@example.com")
    identity = client(IDENTITY, IdentityService)
    profiles = identity.users_get(UsersGet(user_ids=[plain.pk, done.pk])).users
    assert [(p.id, p.email_verified) for p in profiles] == [(plain.pk, False), (done.pk, True)]
    assert identity.user_get(UserGet(user_id=done.pk)).email_verified is True
