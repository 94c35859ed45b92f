"""The live context map: observed edges beside declared ones; undeclared ones flagged."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from cleave.observability.context_map import assemble, declared_calls, declared_events

pytestmark = pytest.mark.django_db


def test_the_code_declares_the_calls_and_subscriptions_we_know_of() -> None:
    assert {("messaging", "identity"), ("notifications", "identity")} <= declared_calls()
    assert ("messaging.message_sent", "notifications") in declared_events()


def test_an_edge_seen_at_run_time_but_in_no_contract_is_flagged() -> None:
    result = assemble(
        "test",
        "1h",
        calls={
            ("messaging", "identity", "users_get"): 12,
            ("notifications", "messaging", "conversation_get"): 3,  # nobody declared this
            ("kernel", "flags", "definitions_get"): 2,  # the platform's own
        },
        events={("messaging.message_sent", "notifications"): 5, ("identity.x", "billing"): 1},
        calls_declared={("messaging", "identity"), ("notifications", "identity")},
        events_declared={("messaging.message_sent", "notifications")},
    )
    flagged = {(e.kind, e.source, e.target, e.detail) for e in result.edges if e.flagged}
    assert flagged == {
        ("call", "notifications", "messaging", "conversation_get"),
        ("event", "identity", "billing", "identity.x"),
    }
    idle = [e for e in result.edges if e.observed == 0]
    assert [(e.source, e.target) for e in idle] == [("notifications", "identity")]
    assert result.as_dict()["flagged"] == 2


def test_the_command_and_the_ops_endpoint_read_this_process_counters(
    admin_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from cleave.contracts.registry import registry
    from contracts.identity import IDENTITY, IdentityService, UserGet

    # A call from code outside any context shows as the kernel's (declared by the platform).
    registry.client(IDENTITY, IdentityService).user_status(UserGet(user_id=1))
    call_command("contexts", "map")
    out = capsys.readouterr().out
    assert "0 edge(s) seen at run time but not declared" in out
    response = admin_client.get("/api/ops/contexts/?window=15m")
    assert response.status_code == 200
    edges = response.json()["edges"]
    assert any(e["source"] == "kernel" and e["target"] == "identity" for e in edges)
    refused = admin_client.get("/api/ops/contexts/?window=1;drop")
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, "validation_error")


def test_strict_mode_fails_on_an_undeclared_edge(monkeypatch: pytest.MonkeyPatch) -> None:
    from cleave.observability import context_map

    monkeypatch.setattr(
        context_map,
        "observed_local",
        lambda: ({("notifications", "messaging", "x"): 1.0}, {}),
    )
    with pytest.raises(CommandError, match="not declared"):
        call_command("contexts", "map", "--strict")
