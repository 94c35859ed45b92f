"""Suite-wide fixtures: every test starts with an empty cache and no remembered tokens."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    from cleave.auth.keys import forget_keys
    from cleave.auth.revocation import forget_checks
    from cleave.auth.tokens import verified
    from cleave.flags.definitions import forget_definitions
    from cleave.testing import clear_cache

    clear_cache()
    verified.clear()
    forget_checks()
    forget_keys()
    forget_definitions()
    # Transactional tests empty the database between tests: identity's signing key and cached
    # profiles of the last test must not outlive it.
    from django.apps import apps

    if apps.is_installed("apps.identity"):
        from apps.identity.selectors import user_profiles_forget_memo
        from apps.identity.services.keys import forget_active_key

        forget_active_key()
        user_profiles_forget_memo()
