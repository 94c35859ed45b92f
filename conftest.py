"""Suite-wide fixtures: every test starts with an empty cache and no remembered tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test empties the database and the cache: what processes remember of them (tokens,
    keys, flags, a context's memos — each registered by its owner) is forgotten too."""
    from cleave.process_memory import forget_process_memory
    from cleave.testing.state import clear_cache

    clear_cache()
    forget_process_memory()


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
