"""A service that does not hold the flag tables loads the definitions from the flags home."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from cleave.contracts.registry import registry
from cleave.flags.changes import flag_kill, flag_save
from cleave.flags.definitions import bump_version, definitions, forget_definitions
from cleave.flags.provider import FlagsProvider
from contracts.flags import FLAGS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def away_from_home() -> Iterator[None]:
    """This process evaluates flags as a non-home service would (the provider stays local, so
    the contract call runs in process; /internal/ is covered by the transport tests)."""
    with override_settings(CLEAVE_FLAGS_HOME=False):
        forget_definitions()
        yield
    forget_definitions()


def test_definitions_come_through_the_contract_unchanged(away_from_home: None) -> None:
    flag_save(
        name="checkout.v2",
        changes={"percent": 25, "platforms": ["ios"], "roles": ["staff"], "user_ids": [7, 3]},
        actor="t",
    )
    flag_kill(name="checkout.v2", killed=True, actor="t")
    bump_version()
    remote = definitions()["checkout.v2"]
    with override_settings(CLEAVE_FLAGS_HOME=True):
        forget_definitions()
        local = definitions()["checkout.v2"]
    assert remote == local
    assert (remote.percent, remote.killed, remote.user_ids) == (25, True, frozenset({3, 7}))


def test_when_the_home_cannot_answer_the_last_definitions_stay(away_from_home: None) -> None:
    flag_save(name="search", changes={"everyone": True}, actor="t")
    bump_version()
    assert definitions()["search"].everyone is True
    registry.withdraw(FLAGS)
    try:
        flag_save(name="search", changes={"everyone": False}, actor="t")
        bump_version()
        assert definitions()["search"].everyone is True  # kept, not emptied
    finally:
        registry.provide(FLAGS, FlagsProvider())
    forget_definitions()
    assert definitions()["search"].everyone is False  # and picked up once it answers
