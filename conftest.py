"""Suite-wide fixtures: every test starts with an empty cache and no remembered tokens."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    from cleave.auth.revocation import forget_checks
    from cleave.auth.tokens import verified
    from cleave.testing import clear_cache

    clear_cache()
    verified.clear()
    forget_checks()
