"""identity's test fixtures: every test signs with keys from its own (fresh) database."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _forget_signing_keys() -> None:
    from apps.identity.selectors import user_profiles_forget_memo
    from apps.identity.services.keys import forget_active_key
    from cleave.auth.keys import forget_keys

    forget_active_key()
    forget_keys()
    user_profiles_forget_memo()
