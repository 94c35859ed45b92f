"""A contract call over HTTP behaves as in process: arguments, results, typed errors; and it
survives a sick target: deadlines, retries only for idempotent calls, a breaker per target.

The probe contract is served by this process's own WSGI app on a loopback port (real HTTP),
so a test can see what the callee saw.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from django.test import override_settings

from cleave.auth.principal import Principal, acting_as
from cleave.contracts import UnexpectedContractError
from cleave.contracts.registry import ContractUnavailable
from cleave.gateway.request_id import current_request_id
from cleave.observability import traceparent
from cleave.remote import breakers, service_tokens
from cleave.remote.transport import clients, http_transport
from cleave.testing.servers import threaded_wsgi_server
from cleave.testing.service_identity import acting_as_service
from cleave.tests.remote_probe import PROBE, Answer, Ask, ProbeRefused, ProbeService, provider
from cleave.tests.remote_probe import probe_registry as registry

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys() -> Iterator[dict[str, Any]]:
    """This test process as service "caller", trusted by the probe's JWKS."""
    with acting_as_service("caller") as keys:
        yield keys


@pytest.fixture
def base_url(keys: dict[str, Any]) -> Iterator[str]:
    with (
        override_settings(ROOT_URLCONF="cleave.tests.remote_urls"),
        threaded_wsgi_server() as url,
        override_settings(
            CLEAVE_SERVICE_URLS={"probe": url},
            CLEAVE_REMOTE_TIMEOUT_SECONDS=0.5,
            CLEAVE_REMOTE_RETRY_BACKOFF_SECONDS=0.01,
            CLEAVE_BREAKER_FAIL_MAX=3,
            CLEAVE_BREAKER_RESET_SECONDS=0.3,
        ),
    ):
        breakers.reset()
        clients.close_all()
        provider.attempts.clear()
        yield url
        clients.close_all()
        breakers.reset()


@pytest.fixture
def probe(base_url: str) -> ProbeService:
    registry.add_transport("http", http_transport)
    return registry.client(PROBE, ProbeService, transport="http")


def test_a_remote_call_round_trips_arguments_and_results(probe: ProbeService) -> None:
    answer = probe.read(Ask(text="héllo ✓", key="a"))
    assert answer == Answer(text="héllo ✓", attempt=1, user_id=None, request_id="-")
    assert type(answer) is Answer


def test_the_user_and_the_request_id_travel_with_the_call(probe: ProbeService) -> None:
    user = Principal(user_id=42, session_id="s1", roles=frozenset({"user"}), expires_at=2**40)
    token = current_request_id.set("req-123")
    try:
        with acting_as(user):
            answer = probe.read(Ask(text="x", key="b"))
    finally:
        current_request_id.reset(token)
    assert (answer.user_id, answer.request_id) == (42, "req-123")


def test_the_apps_trace_id_travels_with_the_call_with_tracing_off(probe: ProbeService) -> None:
    incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    with traceparent.carrying(incoming):
        answer = probe.read(Ask(text="x", key="t"))
    assert answer.trace_id == "0af7651916cd43dd8448eb211c80319c"


def test_typed_errors_cross_the_wire_as_the_same_type(probe: ProbeService) -> None:
    with pytest.raises(ProbeRefused) as raised:
        probe.write(Ask(text="refuse", key="c"))
    assert raised.value.details == {"why": "asked to"}
    assert raised.value.message == "Refused: asked to."
    assert provider.attempts["c"] == 1  # a typed error is an answer: never retried


def test_an_undeclared_failure_is_unexpected_as_in_process(probe: ProbeService) -> None:
    with pytest.raises(UnexpectedContractError) as raised:
        probe.write(Ask(text="crash", key="d"))
    assert raised.value.details["call"] == "write"


def test_idempotent_calls_are_retried_and_others_are_not(probe: ProbeService) -> None:
    assert probe.read(Ask(text="ok", fail_times=2, key="idem")).attempt == 3
    with pytest.raises(UnexpectedContractError):
        probe.write(Ask(text="ok", fail_times=2, key="once"))
    assert provider.attempts["once"] == 1


def test_a_slow_target_times_out_within_the_deadline(probe: ProbeService) -> None:
    started = time.monotonic()
    with pytest.raises(ContractUnavailable) as raised:
        probe.write(Ask(text="slow", sleep_ms=1500, key="slow"))
    assert time.monotonic() - started < 1.4  # the 0.5 s deadline, not the 1.5 s the call takes
    assert raised.value.details["reason"].startswith("timeout")


def test_the_breaker_opens_fails_fast_and_closes_after_a_good_trial(
    probe: ProbeService, base_url: str
) -> None:
    with override_settings(CLEAVE_SERVICE_URLS={"probe": "http://127.0.0.1:9"}):
        dead = registry.client(PROBE, ProbeService, transport="http")
        for _ in range(3):
            with pytest.raises(ContractUnavailable):
                dead.write(Ask(text="x"))
    assert breakers.states() == {"probe": "open"}
    with pytest.raises(ContractUnavailable) as raised:
        probe.read(Ask(text="x", key="fast"))  # the target is fine, but the breaker is open
    assert raised.value.details["reason"] == "circuit_open"
    assert "fast" not in provider.attempts  # refused without trying
    time.sleep(0.35)
    assert breakers.states() == {"probe": "half-open"}
    assert probe.read(Ask(text="back", key="trial")).text == "back"
    assert breakers.states() == {"probe": "closed"}


def test_a_fallback_answers_when_the_target_cannot(base_url: str) -> None:
    registry.add_transport("http", http_transport)
    seen: list[str] = []

    def cached(argument: Any, error: Exception) -> Answer:
        seen.append(type(error).__name__)
        return Answer(text="from cache", attempt=0, user_id=None, request_id="-")

    with override_settings(CLEAVE_SERVICE_URLS={"probe": "http://127.0.0.1:9"}):
        probe = registry.client(PROBE, ProbeService, transport="http", fallbacks={"read": cached})
        assert probe.read(Ask(text="x")).text == "from cache"
        with pytest.raises(ContractUnavailable):
            probe.write(Ask(text="x"))  # no fallback declared for write
    assert seen == ["ContractUnavailable"]


def _post(base_url: str, token: str | None) -> tuple[int, dict[str, Any]]:
    import httpx

    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.post(f"{base_url}/internal/probe/read", json={"text": "x"}, headers=headers)
    return response.status_code, response.json()


def _token(private: str, **claims: Any) -> str:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.from_private_bytes(service_tokens._unb64(private))
    now = int(time.time())
    body = {"iss": "cleave-service:caller", "aud": "cleave-internal:probe", "iat": now}
    body |= {"exp": now + 60, **claims}
    kid = service_tokens.public_jwk("caller", private)["kid"]
    return jwt.encode(body, key, algorithm="EdDSA", headers={"kid": kid})


def test_internal_calls_without_a_valid_service_token_are_refused(
    base_url: str, keys: dict[str, Any]
) -> None:
    stranger, _ = service_tokens.generate_key("caller")  # same name, key nobody trusts
    refused = [
        _post(base_url, None),
        _post(base_url, "not-a-jwt"),
        _post(base_url, _token(keys["private"], aud="cleave-internal:identity")),
        _post(base_url, _token(keys["private"], exp=int(time.time()) - 5)),
        _post(base_url, _token(keys["private"], exp=int(time.time()) + 3600)),  # too long-lived
        _post(base_url, _token(stranger)),
    ]
    for status, body in refused:
        assert (status, body["error"]["code"]) == (401, "service_token_invalid")
    assert _post(base_url, _token(keys["private"]))[0] == 200


def test_the_public_api_is_not_where_internal_calls_live(client: Any) -> None:
    # The monolith's own URLconf serves /internal/ for hosted contracts, never anonymously.
    response = client.post(
        "/internal/identity/user_get", data={"user_id": 1}, content_type="application/json"
    )
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "service_token_invalid"
