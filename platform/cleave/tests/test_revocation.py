"""The kernel's revocation check: the cache answers, a miss asks the owner of the sessions
(batched), and no answer means refusal. The owner here is a small fake source put in through
`swap_source`, the seam `cleave.auth.testing` uses too."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from django.test import override_settings

from cleave.auth import revocation
from cleave.auth.errors import RevocationUnknown
from cleave.contracts.registry import ContractUnavailable


class FakeOwner:
    """Session rows in a set; counts its calls; can be slow or down."""

    def __init__(self, revoked: set[str] | None = None, delay: float = 0.0) -> None:
        self.revoked = revoked or set()
        self.delay = delay
        self.calls: list[list[str]] = []
        self.down = False

    def __call__(self, session_ids: list[str]) -> set[str]:
        self.calls.append(list(session_ids))
        time.sleep(self.delay)
        if self.down:
            raise ContractUnavailable(details={"context": "sessions"})
        return self.revoked & set(session_ids)


@pytest.fixture
def owner() -> Iterator[FakeOwner]:
    fake = FakeOwner()
    previous = revocation.swap_source(fake)
    yield fake
    revocation.swap_source(previous)


@pytest.fixture
def cache_down() -> Iterator[None]:
    """The shared cache unreachable: Redis on a loopback port where nothing listens."""
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    with override_settings(CACHES=unreachable):
        yield


def test_a_miss_asks_the_owner_and_the_answer_is_cached(owner: FakeOwner) -> None:
    owner.revoked = {"gone"}
    assert revocation.is_revoked("gone") is True
    assert revocation.is_revoked("here") is False
    revocation.forget_checks()  # past the per-process second
    assert revocation.is_revoked("gone") is True
    assert revocation.is_revoked("here") is False
    assert owner.calls == [["gone"], ["here"]]


def test_a_revocation_wins_over_a_cached_not_revoked(owner: FakeOwner) -> None:
    assert revocation.is_revoked("s1") is False
    revocation.revoke("s1")
    assert revocation.is_revoked("s1") is True


def test_no_answer_refuses_and_caches_nothing(owner: FakeOwner) -> None:
    owner.down = True
    with pytest.raises(RevocationUnknown):
        revocation.is_revoked("s1")
    owner.down = False
    assert revocation.is_revoked("s1") is False
    assert len(owner.calls) == 2


def test_concurrent_misses_share_calls(owner: FakeOwner) -> None:
    owner.delay = 0.05
    owner.revoked = {f"s{n}" for n in range(0, 40, 2)}
    answers: dict[str, bool] = {}
    start = threading.Barrier(40)

    def check(session_id: str) -> None:
        start.wait()
        answers[session_id] = revocation.is_revoked(session_id)

    threads = [threading.Thread(target=check, args=(f"s{n}",)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == {f"s{n}": n % 2 == 0 for n in range(40)}
    assert sum(len(call) for call in owner.calls) == 40
    assert len(owner.calls) <= 3  # the first asker's call, then one for all who came meanwhile


@pytest.mark.usefixtures("cache_down")
def test_a_caller_with_a_wait_is_refused_in_time_while_a_slow_owner_answers_later(
    owner: FakeOwner,
) -> None:
    # An owner in process whose database is down answers only when the pool gives up (10 s):
    # a caller that bounds its wait is told revocation_unknown when its time is up.
    owner.delay = 0.6
    started = time.monotonic()
    with pytest.raises(RevocationUnknown):
        revocation.revoked_among(["s1"], wait=0.1)
    assert time.monotonic() - started < 0.4
    # The call went on in the background; a second caller's question waits for it to end
    # (one call at a time), and its caller is refused in time too.
    with pytest.raises(RevocationUnknown):
        revocation.revoked_among(["s1"], wait=0.1)
    assert owner.calls == [["s1"]]
    time.sleep(1.4)
    assert owner.calls == [["s1"], ["s1"]]
    owner.delay = 0.0
    assert revocation.revoked_among(["s1"], wait=0.5) == set()


@pytest.mark.usefixtures("cache_down")
def test_a_bounded_caller_gets_the_owners_error_and_the_next_call_is_asked_afresh(
    owner: FakeOwner,
) -> None:
    owner.down = True
    with pytest.raises(RevocationUnknown):
        revocation.revoked_among(["s1"], wait=1.0)
    owner.down = False
    owner.revoked = {"s1"}
    assert revocation.revoked_among(["s1"], wait=1.0) == {"s1"}
    assert len(owner.calls) == 2


def test_a_plain_cache_miss_waits_for_a_slow_owner_whatever_the_callers_bound(
    owner: FakeOwner,
) -> None:
    # The bound is for the stores being down; a new session on a cold owner (split mode) must
    # still be checked, not refused.
    owner.delay = 0.3
    assert revocation.revoked_among(["s1"], wait=0.05) == set()
    assert owner.calls == [["s1"]]
