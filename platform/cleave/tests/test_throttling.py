"""Rate limits and login back-off hold across threads and processes, on LocMem and on Redis."""

from __future__ import annotations

import contextvars
import threading
import time
import warnings
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.cache import CacheKeyWarning, caches
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from django.test import Client, RequestFactory
from pytest_django import Settings

from cleave.errors import Throttled
from cleave.gateway.throttling import Backoff, RateLimit, client_ip
from cleave.tests.throttling_urls import START, clock

API = "/api/throttling"


def _stored_throttle_keys() -> list[str]:
    """Every throttling key in the default cache, whichever backend it is."""
    backend = caches["default"]
    if isinstance(backend, LocMemCache):
        # A test-only peek at LocMemCache's dict, which django-stubs do not declare.
        keys = list(backend._cache)  # type: ignore[attr-defined]
    else:  # RedisCache: only our keys, since the Celery broker may share the database
        assert isinstance(backend, RedisCache)
        client = backend._cache.get_client(None)
        keys = [key.decode() for key in client.scan_iter(match="*cleave:rl:*")]
    return [key for key in keys if "cleave:rl:" in key]


@pytest.fixture(autouse=True)
def _fresh_throttle_state() -> Iterator[None]:
    # Deletes our keys only: cache.clear() on Redis would flush the broker's queues too.
    def forget() -> None:
        backend = caches["default"]
        if isinstance(backend, LocMemCache):
            backend.clear()
        else:
            assert isinstance(backend, RedisCache)
            client = backend._cache.get_client(None, write=True)
            for key in _stored_throttle_keys():
                client.delete(key)

    forget()
    clock.now = START
    yield
    forget()


def _request(remote_addr: str = "198.51.100.1", **meta: Any) -> HttpRequest:
    return RequestFactory().get("/", REMOTE_ADDR=remote_addr, **meta)


def _error(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    return body["error"]


# --- Through a real API -----------------------------------------------------------------------


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_requests_within_the_rate_pass_and_the_next_is_rate_limited_with_retry_after(
    client: Client,
) -> None:
    assert [client.get(f"{API}/by-ip").status_code for _ in range(2)] == [200, 200]

    response = client.get(f"{API}/by-ip")

    assert response.status_code == 429
    assert _error(response)["code"] == "rate_limited"
    assert response["Retry-After"] == "40"  # 39.5 s left in the minute window, rounded up


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_the_limit_resets_when_the_window_ends(client: Client) -> None:
    for _ in range(3):
        client.get(f"{API}/by-ip")
    clock.advance(39)
    assert client.get(f"{API}/by-ip").status_code == 429

    clock.advance(1)

    assert client.get(f"{API}/by-ip").status_code == 200


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_clients_at_different_ips_have_separate_budgets(client: Client) -> None:
    for _ in range(3):
        client.get(f"{API}/by-ip", REMOTE_ADDR="198.51.100.1")

    assert client.get(f"{API}/by-ip", REMOTE_ADDR="198.51.100.2").status_code == 200


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_a_spoofed_forwarded_for_buys_nothing_when_no_proxy_is_trusted(client: Client) -> None:
    for n in range(2):
        client.get(f"{API}/by-ip", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    response = client.get(f"{API}/by-ip", HTTP_X_FORWARDED_FOR="203.0.113.99")

    assert response.status_code == 429


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_users_sharing_an_ip_have_separate_budgets_when_keyed_by_user(client: Client) -> None:
    assert [client.get(f"{API}/by-user", HTTP_X_USER="1").status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]

    assert client.get(f"{API}/by-user", HTTP_X_USER="2").status_code == 200


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_a_key_function_returning_none_leaves_the_request_unthrottled(client: Client) -> None:
    assert {client.get(f"{API}/by-tenant").status_code for _ in range(5)} == {200}

    assert client.get(f"{API}/by-tenant", HTTP_X_TENANT="a").status_code == 200
    assert client.get(f"{API}/by-tenant", HTTP_X_TENANT="a").status_code == 429
    assert client.get(f"{API}/by-tenant", HTTP_X_TENANT="b").status_code == 200


@pytest.mark.urls("cleave.tests.throttling_urls")
def test_login_backoff_answers_rate_limited_with_retry_after_in_details(client: Client) -> None:
    def login(password: str) -> int:
        body = {"email": "Alice@Example.com", "password": password}
        return client.post(f"{API}/login", data=body, content_type="application/json").status_code

    assert [login("wrong") for _ in range(3)] == [401, 401, 401]  # the third locks for 1 s

    response = client.post(
        f"{API}/login",
        data={"email": "alice@example.com", "password": "right-password"},
        content_type="application/json",
    )

    assert response.status_code == 429
    assert _error(response)["code"] == "rate_limited"
    assert _error(response)["details"] == {"retry_after": 1}
    clock.advance(1)
    assert login("right-password") == 200


# --- RateLimit --------------------------------------------------------------------------------


def test_concurrent_requests_never_get_more_than_the_limit() -> None:
    limit = RateLimit("100/m", scope="test-concurrency", clock=clock)
    start = threading.Barrier(8)
    allowed: list[int] = []
    waits: list[float | None] = []

    def client_thread() -> None:
        start.wait()
        mine = 0
        for _ in range(25):
            if limit.allow_request(_request()):
                mine += 1
            else:
                waits.append(limit.wait())
        allowed.append(mine)

    threads = [threading.Thread(target=client_thread) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(allowed) == 100
    assert waits == [39.5] * 100


def test_wait_belongs_to_the_request_that_was_denied_not_the_last_one() -> None:
    # ninja shares one throttle between threads; each thread or task runs in its own context.
    limit = RateLimit("1/m", scope="test-wait", clock=clock)
    other = RateLimit("1/m", scope="test-wait-other", clock=clock)
    first, second = contextvars.Context(), contextvars.Context()
    assert limit.allow_request(_request())
    assert not first.run(limit.allow_request, _request())  # 39.5 s before the window ends
    clock.advance(30)
    assert not second.run(limit.allow_request, _request())  # 9.5 s before it ends

    assert first.run(limit.wait) == 39.5
    assert second.run(limit.wait) == 9.5
    assert second.run(other.wait) is None


def test_the_window_expires_in_real_time_with_the_default_clock() -> None:
    limit = RateLimit("2/s", scope="test-real-clock")
    hits = [limit.hit("someone") for _ in range(3)]
    assert hits[:2] == [None, None]
    assert hits[2] is not None
    assert 0 < hits[2] <= 1

    time.sleep(hits[2] + 0.05)

    assert limit.hit("someone") is None


def test_a_rate_may_count_over_several_units_of_time() -> None:
    limit = RateLimit("2/10s", scope="test-multiple", clock=clock)
    assert limit.period == 10
    hits = [limit.hit("someone") for _ in range(3)]
    assert hits[:2] == [None, None]
    assert hits[2] is not None
    assert 0 < hits[2] <= 10

    clock.advance(hits[2])

    assert limit.hit("someone") is None


def test_user_key_uses_the_principal_then_the_session_user_then_the_ip() -> None:
    limit = RateLimit("1/m", scope="test-identify", key="user")
    with_principal = _request()
    # Stand-ins for what ninja's auth and Django's session middleware set on a request.
    with_principal.auth = SimpleNamespace(user_id=42)  # type: ignore[attr-defined]
    with_session = _request()
    with_session.user = SimpleNamespace(is_authenticated=True, pk=7)  # type: ignore[assignment]
    anonymous = _request("198.51.100.9")
    anonymous.user = AnonymousUser()

    assert limit.identify(with_principal) == "user:42"
    assert limit.identify(with_session) == "user:7"
    assert limit.identify(anonymous) == "ip:198.51.100.9"


def test_client_ip_trusts_only_as_many_forwarded_hops_as_there_are_proxies(
    settings: Settings,
) -> None:
    spoofed = {"HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.7, 10.0.0.2"}
    assert client_ip(_request("10.0.0.3", **spoofed)) == "10.0.0.3"

    settings.CLEAVE_TRUSTED_PROXIES = 2

    assert client_ip(_request("10.0.0.3", **spoofed)) == "203.0.113.7"
    assert client_ip(_request("10.0.0.3", HTTP_X_FORWARDED_FOR="203.0.113.8")) == "203.0.113.8"
    assert client_ip(_request("10.0.0.3")) == "10.0.0.3"


@pytest.mark.parametrize("rate", ["5/min", "0/m", "5", "x/m", "5/w", "-1/s", "5/0s", "5/10"])
def test_a_malformed_rate_is_refused_when_the_route_is_declared(rate: str) -> None:
    with pytest.raises(ValueError, match="Rate must look like"):
        RateLimit(rate, scope="test")


def test_an_unknown_key_kind_is_refused_when_the_route_is_declared() -> None:
    with pytest.raises(ValueError, match="Key must be"):
        RateLimit("5/m", scope="test", key="email")  # type: ignore[arg-type]  # the wrong kind on purpose


def test_long_and_personal_identifiers_are_hashed_into_short_cache_keys() -> None:
    email = "alice.with.a.rather.long.address+" + "x" * 250 + "@example.com"
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        Backoff(scope="test-hashing", clock=clock).failure(f"email:{email}")
        RateLimit("5/m", scope="test-hashing", clock=clock).hit(f"odd key with spaces {email}")

    keys = _stored_throttle_keys()
    assert len(keys) == 2
    assert all(len(key) < 250 for key in keys)
    assert not any("example.com" in key or " " in key for key in keys)


# --- Backoff ----------------------------------------------------------------------------------


def _login_backoff() -> Backoff:
    return Backoff(
        scope="test-backoff", free_failures=3, base_seconds=1, max_seconds=900, clock=clock
    )


def _retry_after(backoff: Backoff, *keys: str) -> int | None:
    try:
        backoff.check(*keys)
    except Throttled as exc:
        return int(exc.details["retry_after"])
    return None


def test_backoff_allows_free_failures_then_locks_for_doubling_periods() -> None:
    backoff = _login_backoff()
    for _ in range(3):
        assert backoff.failure("email:a@example.com") == 0
        assert _retry_after(backoff, "email:a@example.com") is None

    lockouts: list[float] = []
    for _ in range(4):
        lockout = backoff.failure("email:a@example.com")
        assert _retry_after(backoff, "email:a@example.com") == lockout
        clock.advance(lockout - 0.5)
        assert _retry_after(backoff, "email:a@example.com") == 1  # 0.5 s left, rounded up
        clock.advance(0.5)
        assert _retry_after(backoff, "email:a@example.com") is None
        lockouts.append(lockout)

    assert lockouts == [1, 2, 4, 8]


def test_backoff_lockout_is_capped_at_max_seconds() -> None:
    backoff = _login_backoff()

    assert backoff.lockout_seconds(3 + 10) == 512
    assert backoff.lockout_seconds(3 + 11) == 900
    assert backoff.lockout_seconds(10_000) == 900


def test_success_clears_failures_and_lockout() -> None:
    backoff = _login_backoff()
    for _ in range(4):
        backoff.failure("email:a@example.com")
    assert _retry_after(backoff, "email:a@example.com") == 1

    backoff.success("email:a@example.com")

    assert _retry_after(backoff, "email:a@example.com") is None
    assert [backoff.failure("email:a@example.com") for _ in range(4)] == [0, 0, 0, 1]


def test_account_and_ip_keys_lock_independently() -> None:
    backoff = _login_backoff()
    for _ in range(4):
        backoff.failure("email:a@example.com", "ip:198.51.100.1")

    assert _retry_after(backoff, "email:b@example.com", "ip:198.51.100.2") is None
    assert _retry_after(backoff, "email:b@example.com", "ip:198.51.100.1") == 1
    assert _retry_after(backoff, "email:a@example.com", "ip:198.51.100.2") == 1


def test_check_reports_the_longest_lockout_among_the_keys() -> None:
    backoff = _login_backoff()
    for _ in range(6):
        backoff.failure("email:a@example.com")
    for _ in range(4):
        backoff.failure("ip:198.51.100.1")

    assert _retry_after(backoff, "email:a@example.com", "ip:198.51.100.1") == 4
