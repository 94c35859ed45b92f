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


@pytest.fixture
def scanner_role(monkeypatch: pytest.MonkeyPatch) -> str:
    """A role a context declares ("scanner", ticketing's), whichever contexts run these tests:
    identity's own tests also run without any other context installed."""
    for module in ("apps.identity.selectors", "apps.identity.ops"):
        monkeypatch.setattr(f"{module}.declared_roles", lambda: frozenset({"scanner"}))
    return "scanner"


@pytest.mark.django_db(transaction=True)  # sessions end after the commit
def test_staff_grant_a_declared_role_which_the_next_tokens_carry(scanner_role: str) -> None:
    user_create(email="support@example.com", roles=("staff",))
    target = user_create(email="door@example.com", roles=("editors",))  # a permissions group
    before = login("door@example.com")
    assert before.get("/api/v1/me").json()["roles"] == ["user"]  # "editors" is no role

    response = login("support@example.com").send(
        "put", f"/api/ops/users/{target.pk}/roles/", {"roles": [scanner_role]}
    )

    assert response.status_code == 200, response.content
    assert response.json() == {"id": target.pk, "roles": [scanner_role, "user"]}
    assert sorted(User.objects.get(pk=target.pk).groups.values_list("name", flat=True)) == [
        "editors",  # other groups stay
        scanner_role,
    ]
    assert before.send("get", "/api/v1/me").status_code == 401  # roles changed: signed out
    after = login("door@example.com")
    assert after.get("/api/v1/me").json()["roles"] == [scanner_role, "user"]
    assert LogEntry.objects.filter(object_id=str(target.pk)).exists()
    again = login("support@example.com").send(
        "put", f"/api/ops/users/{target.pk}/roles/", {"roles": []}
    )
    assert again.json()["roles"] == ["user"]


def test_only_declared_roles_for_existing_accounts_by_staff(scanner_role: str) -> None:
    user_create(email="support@example.com", roles=("staff",))
    target = user_create(email="someone@example.com")
    staff = login("support@example.com")
    path = f"/api/ops/users/{target.pk}/roles/"

    for body in ({"roles": ["admin"]}, {"roles": ["staff"]}, {"roles": "scanner"}, {}):
        refused = staff.send("put", path, body)
        assert refused.status_code in (400, 422), (body, refused.content)
    missing = staff.send("put", "/api/ops/users/999999/roles/", {"roles": [scanner_role]})
    assert missing.status_code == 404
    plain = login("someone@example.com").send("put", path, {"roles": [scanner_role]})
    assert plain.status_code == 403
