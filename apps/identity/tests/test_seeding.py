"""`manage.py users_seed`: ordinary accounts with live sessions, for tests and benchmarks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command

from apps.identity.models import Session, User
from cleave.auth.errors import SessionRevoked
from cleave.auth.tokens import verify_access_token
from cleave.events import captured_events

pytestmark = pytest.mark.django_db


def test_seeded_accounts_get_working_tokens_and_are_registered_like_any_other(
    tmp_path: Path,
) -> None:
    out = tmp_path / "tokens.json"
    with captured_events() as events:
        call_command(
            "users_seed", count=3, prefix="t", password="a long shared pass", tokens_out=out
        )
    seeded = json.loads(out.read_text())
    assert [entry["email"] for entry in seeded] == [f"t-{n}@example.com" for n in range(3)]
    for entry in seeded:
        assert verify_access_token(entry["access"]).user_id == entry["user_id"]
    assert User.objects.get(email="t-0@example.com").check_password("a long shared pass")
    assert (
        sorted(e.event_type for e in events if e.event_type == "identity.user_registered")
        == ["identity.user_registered"] * 3
    )


@pytest.mark.django_db(transaction=True)  # a replaced session is revoked after commit
def test_seeding_again_reuses_the_accounts_and_replaces_their_sessions(tmp_path: Path) -> None:
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    call_command("users_seed", count=2, prefix="again", tokens_out=first)
    call_command("users_seed", count=2, prefix="again", tokens_out=second)
    old, new = json.loads(first.read_text()), json.loads(second.read_text())
    assert [e["user_id"] for e in old] == [e["user_id"] for e in new]
    assert User.objects.filter(email__startswith="again-").count() == 2
    assert Session.objects.filter(revoked_at__isnull=True, user_id=new[0]["user_id"]).count() == 1
    with pytest.raises(SessionRevoked):
        verify_access_token(old[0]["access"])
    assert verify_access_token(new[0]["access"]).user_id == new[0]["user_id"]
