"""The ops API (DRF) with access tokens: `request.user` is the token's principal, not a row of
the user table; staff by the token's roles, permissions from the registered source."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client

from cleave.auth.testing import token_signer
from cleave.flags.changes import flag_save
from cleave.flags.models import FlagChange

pytestmark = pytest.mark.django_db
NO_SUCH_ACCOUNT = 987_654  # an id no row of the user table has


def _patch(token: str, body: dict[str, object]) -> tuple[int, dict[str, Any]]:
    response = Client().patch(
        "/api/ops/flags/canary/",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    return response.status_code, response.json()


def test_a_staff_token_reads_flags_without_its_account_being_loaded() -> None:
    flag_save(name="canary", changes={"percent": 1}, actor="t")
    with token_signer() as sign:
        staff = sign(user_id=NO_SUCH_ACCOUNT, roles=("user", "staff"))
        plain = sign(user_id=NO_SUCH_ACCOUNT, roles=("user",))
        read = Client().get("/api/ops/flags/", HTTP_AUTHORIZATION=f"Bearer {staff}")
        refused = Client().get("/api/ops/flags/", HTTP_AUTHORIZATION=f"Bearer {plain}")
        status, body = _patch(staff, {"percent": 5})
    assert [flag["name"] for flag in read.json()] == ["canary"]
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")
    # Staff by role, but the permission source knows no permission of that account.
    assert (status, body["error"]["code"]) == (403, "forbidden")


def test_a_pipelines_canary_step_is_allowed_by_permission_and_audited_under_its_account() -> None:
    flag_save(name="canary", changes={"percent": 1}, actor="t")
    account = get_user_model().objects.create_user(
        email="pipeline@example.com", password="pw-pipe-12345", is_staff=True
    )
    account.user_permissions.add(
        Permission.objects.get(codename="change_flag", content_type__app_label="cleave")
    )
    with token_signer() as sign:
        status, body = _patch(sign(user_id=account.pk, roles=("user", "staff")), {"percent": 5})
    assert (status, body["percent"]) == (200, 5.0)
    change = FlagChange.objects.filter(flag_name="canary").latest("id")
    assert change.after is not None
    assert (change.actor, change.after["percent"]) == (f"user {account.pk}", 5.0)
