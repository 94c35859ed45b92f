"""`seed_demo`: the demo accounts in embedded mode only (their passwords are well known); the
contexts' own demo data (`--data-only`, no accounts) in any mode, as `make split` seeds it."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db(transaction=True)


def test_real_mode_refuses_the_demo_accounts(settings: Any) -> None:
    settings.CLEAVE_MODE = "real"
    with pytest.raises(CommandError, match="embedded mode only"):
        call_command("seed_demo", stdout=io.StringIO())
    assert not get_user_model().objects.exists()


def test_data_only_seeds_the_contexts_data_in_real_mode_and_no_account(settings: Any) -> None:
    settings.CLEAVE_MODE = "real"
    first, again = io.StringIO(), io.StringIO()
    call_command("seed_demo", "--data-only", stdout=first)
    call_command("seed_demo", "--data-only", stdout=again)  # idempotent, like every seed()
    assert not get_user_model().objects.exists()
    assert "Admin:" not in first.getvalue()
    assert first.getvalue().strip()  # each context with a demo module said what it made
