"""Suite-wide fixtures: every test starts with an empty cache and no remembered tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    from cleave.app_versions.policy import forget_policies
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
    forget_policies()
    # Transactional tests empty the database between tests: identity's signing key and cached
    # profiles of the last test must not outlive it.
    from django.apps import apps

    if apps.is_installed("apps.identity"):
        from apps.identity.selectors import user_profiles_forget_memo
        from apps.identity.services.keys import forget_active_key

        forget_active_key()
        user_profiles_forget_memo()


@pytest.fixture(autouse=True)
def _background_work_settles(request: pytest.FixtureRequest) -> Iterator[None]:
    """Real mode hands the outbox off from a background thread after each commit. A test that
    commits (transactional) is torn down by truncating every table, which deadlocked with that
    thread still relaying (seen in CI): background work settles first. Requesting the database
    fixture here makes this teardown run before the database's."""
    from django.conf import settings

    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        yield
        return
    request.getfixturevalue("_django_db_helper")
    yield
    # Embedded mode runs some tasks on a background thread (`cleave.background`); one still
    # holding the in-memory database made its flush fail (seen in CI): it settles too.
    from cleave.background import background_drain

    background_drain()
    if not settings.CLEAVE_EVENTS_INPROCESS:
        from cleave.events.relay import background_relay

        background_relay.wait_idle(timeout=10)
