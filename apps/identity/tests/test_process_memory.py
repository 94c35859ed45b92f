"""identity's memos are forgotten through the kernel's hook, without the kernel naming it."""

from __future__ import annotations

import pytest

from apps.identity import selectors
from apps.identity.services import keys
from apps.identity.tests.factories import user_create
from cleave.process_memory import forget_process_memory

pytestmark = pytest.mark.django_db


def test_forgetting_process_memory_drops_remembered_profiles_and_the_signing_key() -> None:
    user = user_create()
    assert selectors.user_profile_get(user_id=user.pk) is not None
    keys.access_token_issue(user_id=user.pk, session_id="s", roles=frozenset({"user"}))
    assert selectors._recent_profiles
    assert keys._active._signer is not None

    forget_process_memory()

    assert selectors._recent_profiles == {}
    assert keys._active._signer is None
