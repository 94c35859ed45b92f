"""Nobody can keep an account locked out (issue 16, finding 6): wrong passwords from many
addresses used to lock the owner out for up to 15 minutes, renewable forever.

Back-off is per (account, client address): 5 free failures, then 1 s doubling to 15 minutes,
for that address only. Account-wide, past 100 failures an hour every attempt waits a fixed
delay (`CLEAVE_AUTH_ACCOUNT_DELAY_SECONDS`) but a correct password is never refused. Password
resets alike. Addresses here are REMOTE_ADDR (no trusted proxy), and X-Forwarded-For where a
trusted proxy is configured, as `client_ip` reads them.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.test import Client, override_settings
from prometheus_client import REGISTRY

from apps.identity import throttles
from apps.identity.tests.factories import PASSWORD, device, user_create

pytestmark = pytest.mark.django_db(transaction=True)
EMAIL = "owner@example.com"
DELAY = 0.3  # the account-wide delay in these tests (1 s by default)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(throttles.login_backoff, "clock", fake)
    monkeypatch.setattr(throttles.reset_backoff, "clock", fake)
    return fake


def _login(address: str, password: str = "wrong password 123", **headers: Any) -> Any:
    return Client(REMOTE_ADDR=address, **headers).post(
        "/api/v1/auth/login",
        {"email": EMAIL, "password": password, "device": device()},
        content_type="application/json",
    )


def _reset(address: str) -> Any:
    return Client(REMOTE_ADDR=address).post(
        "/api/v1/auth/password-reset", {"email": EMAIL}, content_type="application/json"
    )


def _delayed(scope: str) -> float:
    return REGISTRY.get_sample_value("cleave_auth_delayed_total", {"scope": scope}) or 0.0


def test_wrong_passwords_from_one_address_do_not_lock_out_another() -> None:
    user_create(email=EMAIL)
    for _ in range(6):
        assert _login("198.51.100.7").status_code == 401
    locked = _login("198.51.100.7", PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["error"]["details"]["retry_after"] == 1
    assert _login("203.0.113.9", PASSWORD).status_code == 200


@override_settings(CLEAVE_TRUSTED_PROXIES=1)
def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_backed_off() -> None:
    user_create(email=EMAIL)
    proxy = "10.0.0.2"  # every request arrives from the load balancer
    for _ in range(6):
        assert _login(proxy, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 401
    assert _login(proxy, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    # A forged left-hand entry changes nothing: the proxy's own entry is the client.
    assert _login(proxy, PASSWORD, HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.7").status_code == (
        429
    )
    assert _login(proxy, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 200


def test_the_backoff_schedule_is_five_free_then_one_second_doubling_to_fifteen_minutes(
    clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The per-address rate limit (20 a minute) is a guard of its own; out of the way here.
    monkeypatch.setattr(throttles.login_limit, "limit", 1000)
    user_create(email=EMAIL)
    for _ in range(5):
        assert _login("198.51.100.7").status_code == 401
    assert _login("198.51.100.7").status_code == 401  # the 6th failure locks
    waits = []
    for _ in range(13):
        refused = _login("198.51.100.7", PASSWORD)
        assert refused.status_code == 429
        wait = refused.json()["error"]["details"]["retry_after"]
        waits.append(wait)
        clock.now += wait - 0.5
        assert _login("198.51.100.7", PASSWORD).status_code == 429  # not yet
        clock.now += 0.5
        assert _login("198.51.100.7").status_code == 401  # a failure again, a longer lock
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900]


@override_settings(CLEAVE_AUTH_ACCOUNT_DELAY_SECONDS=DELAY)
def test_past_100_failures_an_hour_every_attempt_waits_but_the_owner_still_signs_in() -> None:
    user_create(email=EMAIL)
    delayed_before = _delayed("login")
    for number in range(100):  # a botnet: one wrong password from each of 100 addresses
        assert _login(f"198.51.{number // 250}.{number % 250 + 1}").status_code == 401
    assert _delayed("login") == delayed_before  # no delay up to 100

    started = time.perf_counter()
    wrong = _login("198.51.200.1")
    assert wrong.status_code == 401
    assert time.perf_counter() - started >= DELAY
    started = time.perf_counter()
    owner = _login("203.0.113.9", PASSWORD)
    assert owner.status_code == 200, owner.content
    assert time.perf_counter() - started >= DELAY
    assert _delayed("login") == delayed_before + 2


def test_reset_requests_from_one_address_do_not_lock_out_another() -> None:
    user_create(email=EMAIL)
    for _ in range(4):
        assert _reset("198.51.100.7").status_code == 202
    assert _reset("198.51.100.7").status_code == 429
    assert _reset("203.0.113.9").status_code == 202


@override_settings(CLEAVE_AUTH_ACCOUNT_DELAY_SECONDS=DELAY)
def test_past_100_resets_an_hour_every_reset_waits_but_none_is_refused() -> None:
    delayed_before = _delayed("password-reset")
    for number in range(100):
        assert _reset(f"198.51.{number // 250}.{number % 250 + 1}").status_code == 202
    assert _delayed("password-reset") == delayed_before
    started = time.perf_counter()
    assert _reset("203.0.113.9").status_code == 202
    assert time.perf_counter() - started >= DELAY
    assert _delayed("password-reset") == delayed_before + 1
