"""Events reach contexts this process does not host: the routing table of the deployment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from cleave.contracts.snapshot import published_contracts
from cleave.events import routes
from cleave.events.relay import destinations
from cleave.events.subscribers import subscribers


def test_the_committed_table_matches_the_subscribers_of_published_events() -> None:
    table = routes.build(published_contracts(), subscribers.all())
    assert table["identity.user_deleted"] == [
        "messaging",
        "notifications",
        "recommendations",
        "tracking",
    ]
    assert json.loads(routes.ROUTES_PATH.read_text()) == table


@override_settings(CLEAVE_EVENTS_INPROCESS=False)
def test_a_relay_routes_to_consumers_it_does_not_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # As in a service hosting identity alone: no local subscriber of user_deleted at all.
    monkeypatch.setattr(subscribers, "contexts_for", lambda event_type: set())
    assert destinations("identity.user_deleted") == {
        "messaging",
        "notifications",
        "recommendations",
        "tracking",
    }
    assert destinations("identity.nobody_listens") == set()


def test_one_process_delivers_only_to_its_own_subscribers() -> None:
    assert destinations("orders.order_placed") == {"shipping"}  # the test example contexts


def test_contracts_check_refuses_a_stale_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = tmp_path / "subscriptions.json"
    stale.write_text(routes.render({"identity.user_deleted": ["messaging"]}))
    monkeypatch.setattr(routes, "ROUTES_PATH", stale)
    with pytest.raises(CommandError, match="subscriptions.json is stale"):
        call_command("contracts", "check")
