"""/metrics: every declared metric is exposed, and labels stay bounded (templates, not paths)."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from cleave.auth.testing import token_signer
from cleave.flags.evaluation import FlagContext, evaluate
from cleave.observability import metrics

pytestmark = pytest.mark.django_db


def _scrape(client: Any) -> dict[str, Any]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.text)}


def _declared() -> dict[str, str]:
    found = {}
    for value in vars(metrics).values():
        if isinstance(value, Counter | Gauge | Histogram):
            found[value._name] = value._type
    return found


def test_every_declared_metric_and_the_event_bus_gauges_are_exposed(client: Any) -> None:
    families = _scrape(client)
    for name, kind in _declared().items():
        assert name in families, name
        assert families[name].type == kind
    for gauge in ("cleave_outbox_lag_seconds", "cleave_outbox_pending"):
        assert [s.labels for s in families[gauge].samples] == [{"database": "default"}]


def test_request_labels_are_route_templates_never_raw_paths(client: Any) -> None:
    with token_signer() as sign:
        token = sign(user_id=7)
        client.get("/api/v1/conversations/918273645", HTTP_AUTHORIZATION=f"Bearer {token}")
    client.get("/no/such/page/5550123")
    client.get("/api/v1/meta")
    samples = _scrape(client)["cleave_http_requests"].samples
    labels = [s.labels for s in samples if s.name == "cleave_http_requests_total"]
    assert {
        "context": "messaging",
        "route": "api/v1/conversations/<conversation_id>",
        "method": "GET",
        "status": "404",
    } in labels
    assert {"context": "kernel", "route": "unmatched", "method": "GET", "status": "404"} in labels
    assert {"context": "kernel", "route": "api/v1/meta", "method": "GET", "status": "200"} in labels
    values = {value for label in labels for value in label.values()}
    assert not any("918273645" in v or "5550123" in v for v in values)


def test_contract_calls_are_counted_by_caller_callee_and_outcome(client: Any) -> None:
    from cleave.contracts.registry import client as contract_client
    from contracts.identity import IDENTITY, IdentityService, UserGet, UserNotFound

    identity = contract_client(IDENTITY, IdentityService)
    with pytest.raises(UserNotFound):
        identity.user_get(UserGet(user_id=987654))
    samples = _scrape(client)["cleave_contract_calls"].samples
    assert any(
        s.labels
        == {
            "caller": "kernel",  # built here, outside any context
            "callee": "identity",
            "call": "user_get",
            "transport": "inprocess",
            "outcome": "typed_error",
        }
        and s.value >= 1
        for s in samples
    )


def test_flag_names_nobody_defined_share_one_label(client: Any) -> None:
    evaluate("made-up-by-a-client-<script>", FlagContext(user_id=1))
    samples = _scrape(client)["cleave_flag_evaluations"].samples
    flags = {s.labels["flag"] for s in samples}
    assert "unknown" in flags
    assert not any("<script>" in flag for flag in flags)


def test_frame_types_outside_the_documented_set_are_other() -> None:
    assert metrics.frame_type("message.send") == "message.send"
    assert metrics.frame_type("x" * 500) == "other"
    assert metrics.frame_type({"nested": 1}) == "other"
