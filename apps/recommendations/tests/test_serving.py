"""The read path under load and failure: stale-while-revalidate, coalescing of concurrent
misses, the deadline, and the degraded fallback when the shared cache is down."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.test import override_settings

from apps.recommendations.services import serving
from apps.recommendations.services.cache import (
    REVALIDATION_SHARE,
    Revalidations,
    cell_key,
    computed_count,
    layered,
    user_key,
)
from apps.recommendations.tests import factories
from cleave.auth import revocation
from cleave.auth.errors import RevocationUnknown
from cleave.testing.processes import free_port, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
Get = Callable[..., Any]


def _ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["show_id"] for item in response.json()["items"]]


@contextmanager
def shared_cache_down() -> Iterator[None]:
    """Django's default cache (Redis in real mode) pointed at a port nobody listens on, and this
    process's memory layer emptied: every read must reach the shared cache, and fails to."""
    closed = f"redis://127.0.0.1:{free_port()}/11"
    down = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": closed,
            "OPTIONS": {"socket_connect_timeout": 0.2, "socket_timeout": 0.2},
        }
    }
    serving.settle()
    layered.memory_forget()
    with override_settings(CACHES=down):
        yield
    layered.memory_forget()


@override_settings(
    CLEAVE_RECOMMENDATIONS_FRESH_SECONDS=0.3, CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS=0
)
def test_a_stale_list_is_served_while_one_request_recomputes_it(get: Get) -> None:
    first = factories.show()
    assert _ids(get("/api/v1/recommendations", user_id=1)) == [first]
    second = factories.show()  # a new show invalidates nobody's list: it waits for the TTL
    time.sleep(0.4)  # past the fresh time (0.3 s ± 10 %), well within the grace window

    stale = get("/api/v1/recommendations", user_id=1)

    assert _ids(stale) == [first]  # answered at once from the stale entry, not degraded
    assert stale.json()["degraded"] is False
    wait_for(lambda: set(_ids(get("/api/v1/recommendations", user_id=1))) == {first, second})


def test_concurrent_misses_for_one_key_compute_it_once() -> None:
    calls: list[int] = []
    start = threading.Barrier(12)
    sources: list[str] = []

    def compute() -> list[int]:
        calls.append(1)
        time.sleep(0.2)  # long enough for every other caller to miss and wait
        return [42]

    def caller() -> None:
        start.wait()
        entry, source = layered.fetch("recs:test:stampede", compute)
        assert entry.value == [42]
        sources.append(source)

    threads = [threading.Thread(target=caller) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(calls) == 1
    assert sorted(sources) == ["coalesced"] * 11 + ["computed"]


@override_settings(CLEAVE_RECOMMENDATIONS_PROTECTIONS=0)
def test_without_the_protections_every_miss_computes() -> None:
    """The benchmark's baseline: what coalescing saves is visible against it."""
    calls: list[int] = []
    start = threading.Barrier(4)

    def compute() -> list[int]:
        calls.append(1)
        time.sleep(0.1)
        return [1]

    def caller() -> None:
        start.wait()
        layered.fetch("recs:test:baseline", compute)

    threads = [threading.Thread(target=caller) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(calls) == 4


def test_with_the_shared_cache_down_the_last_good_list_or_the_popular_one_answers(
    get: Get,
) -> None:
    rock, jazz = factories.show(), factories.show()
    factories.ticket(user_id=9, show_id=jazz)  # jazz is the popular one
    mine = _ids(get("/api/v1/recommendations", user_id=1))
    assert mine == [jazz, rock]

    with shared_cache_down():
        again = get("/api/v1/recommendations", user_id=1)
        stranger = get("/api/v1/recommendations", user_id=2)  # never served in this process
        for _ in range(3):
            get("/api/v1/recommendations/nearby/cells/" + factories.cell_at(factories.PARIS))
        assert serving.breaker.open  # failures in a row: the stores are not tried for a while
        while_open = get("/api/v1/recommendations", user_id=1)

    assert (again.status_code, again.json()["degraded"], _ids(again)) == (200, True, mine)
    assert again["Cache-Control"] == "no-store"
    assert stranger.json()["degraded"] is True
    assert _ids(stranger) == [jazz, rock]  # the popular snapshot, by buyers
    assert [r["code"] for r in stranger.json()["items"][0]["reasons"]] == ["popular"]
    assert (while_open.status_code, _ids(while_open)) == (200, mine)


def test_a_caller_whose_session_cannot_be_checked_gets_the_anonymous_popular_list(
    get: Get,
) -> None:
    popular, bought = factories.show(), factories.show()
    factories.ticket(user_id=9, show_id=popular)
    factories.ticket(user_id=8, show_id=popular)
    factories.ticket(user_id=1, show_id=bought)  # user 1's own list would leave it out
    assert _ids(get("/api/v1/recommendations", user_id=3)) == [popular, bought]  # the snapshot

    def owner_down(session_ids: list[str]) -> set[str]:
        raise RevocationUnknown()

    previous = revocation.swap_source(owner_down)
    try:
        with shared_cache_down():
            answer = get("/api/v1/recommendations", user_id=1)  # a session not seen before
    finally:
        revocation.swap_source(previous)

    assert answer.status_code == 200, answer.content
    assert answer.json()["variant"] is None
    assert answer.json()["degraded"] is True
    assert _ids(answer) == [popular, bought]  # not user 1's personal list


@override_settings(CLEAVE_RECOMMENDATIONS_DEADLINE_SECONDS=0.2)
def test_a_caller_whose_session_check_is_slow_gets_the_anonymous_list_within_the_deadline(
    get: Get,
) -> None:
    # Redis down and the sessions' owner's database down: the owner in process answers only
    # when its connection pool gives up (10 s). The read does not wait for it.
    popular, bought = factories.show(), factories.show()
    factories.ticket(user_id=9, show_id=popular)
    factories.ticket(user_id=1, show_id=bought)
    assert _ids(get("/api/v1/recommendations", user_id=3)) == [popular, bought]  # the snapshot
    done = threading.Event()

    def owner_stuck(session_ids: list[str]) -> set[str]:
        done.wait(5)
        raise RevocationUnknown()

    previous = revocation.swap_source(owner_stuck)
    try:
        with shared_cache_down():
            started = time.monotonic()
            answer = get("/api/v1/recommendations", user_id=1)
            took = time.monotonic() - started
    finally:
        done.set()
        revocation.swap_source(previous)

    assert answer.status_code == 200, answer.content
    assert took < 1.5, took
    assert (answer.json()["variant"], answer.json()["degraded"]) == (None, True)
    assert _ids(answer) == [popular, bought]  # not user 1's personal list


def test_a_read_past_its_deadline_answers_degraded_and_its_work_is_kept(settings: Any) -> None:
    settings.CLEAVE_RECOMMENDATIONS_DEADLINE_SECONDS = 0.05

    def slow() -> list[int]:
        time.sleep(0.3)  # a ranking or a store slower than the deadline
        return [7]

    late = serving.serve("recs:test:slow", slow)
    assert (late.value, late.degraded, late.source) == ([], True, "empty")  # nothing before it
    serving.settle()  # the fetch went on and stored its result in the shared cache
    assert serving.serve("recs:test:slow", slow).value == [7]


def test_a_failing_ranking_answers_the_last_good_list_and_opens_the_breaker(
    settings: Any,
) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0  # every read reaches the shared layer
    settings.CLEAVE_RECOMMENDATIONS_FRESH_SECONDS = 0.05
    settings.CLEAVE_RECOMMENDATIONS_GRACE_SECONDS = 0  # no stale entry to hide the failure
    good = serving.serve("recs:test:failing", lambda: [1, 2])
    time.sleep(0.2)

    def broken() -> list[int]:
        raise RuntimeError("the ranking's database is gone")

    answers = [serving.serve("recs:test:failing", broken) for _ in range(3)]

    assert good.degraded is False
    assert [(a.value, a.degraded, a.source) for a in answers] == [([1, 2], True, "last_good")] * 3
    assert serving.breaker.open


def test_a_list_past_its_memory_time_is_served_from_memory_while_it_is_refetched(
    settings: Any,
) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0.3
    version = [1]
    key = "recs:test:memory-due"
    before = computed_count(key)  # the shared cache may outlive a run
    assert serving.serve(key, lambda: list(version)).source == "computed"
    layered.invalidate(key)  # the shared layer moves on (another process invalidated it) ...
    layered.memory_put(key, serving._last_good[key])  # ... while this process's memory has not
    version[0] = 2
    time.sleep(0.35)  # past the memory time, within twice it

    due = serving.serve(key, lambda: list(version))

    assert (due.value, due.degraded, due.source) == ([1], False, "memory_due")  # not waiting
    serving.settle()  # the one background fetch computed the new list and put it in memory
    assert serving.serve(key, lambda: [3]).value == [2]
    assert computed_count(key) - before == 2


def test_a_list_past_twice_its_memory_time_is_fetched_before_it_is_served(
    settings: Any,
) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0.1
    key = "recs:test:memory-gone"
    serving.serve(key, lambda: [1])
    layered.invalidate(key)
    layered.memory_put(key, serving._last_good[key])
    time.sleep(0.25)  # past twice the memory time: too old to serve without asking

    answer = serving.serve(key, lambda: [2])

    assert (answer.value, answer.source) == ([2], "computed")


def test_an_area_list_stays_in_memory_until_its_fresh_time_and_a_users_list_does_not(
    settings: Any,
) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0.5
    area, mine = cell_key("test-kept"), user_key(990_001, "test-kept")
    before = computed_count(area), computed_count(mine)  # the shared cache may outlive a run
    serving.serve(area, lambda: [1])
    serving.serve(mine, lambda: [1])
    time.sleep(0.6)  # past the memory time, within twice it; both lists fresh for 30 s more

    assert serving.serve(area, lambda: [2]).source == "memory"  # nothing to refetch
    assert serving.serve(mine, lambda: [2]).source == "memory_due"  # may have been invalidated
    serving.settle()
    assert (computed_count(area), computed_count(mine)) == (before[0] + 1, before[1] + 1)


def test_an_area_list_past_its_fresh_time_is_refetched_and_recomputed(settings: Any) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0.3
    settings.CLEAVE_RECOMMENDATIONS_FRESH_SECONDS = 0.3
    area = cell_key("test-fresh-time")
    before = computed_count(area)
    assert serving.serve(area, lambda: [1]).source == "computed"
    time.sleep(0.4)  # past its fresh time (0.27-0.33 s), within it plus the memory time

    due = serving.serve(area, lambda: [2])

    assert (due.value, due.source) == ([1], "memory_due")  # not waiting
    serving.settle()  # the refetch found it stale, and its revalidation computed [2]
    assert computed_count(area) - before == 2
    layered.memory_forget(area)
    assert serving.serve(area, lambda: [3]).value == [2]


def test_after_a_quiet_spell_an_area_list_is_served_from_memory_until_its_grace_ends(
    settings: Any,
) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0.1
    settings.CLEAVE_RECOMMENDATIONS_FRESH_SECONDS = 0.2
    settings.CLEAVE_RECOMMENDATIONS_GRACE_SECONDS = 0.6
    area, mine = cell_key("test-quiet"), user_key(990_002, "test-quiet")
    serving.serve(area, lambda: [1])
    serving.serve(mine, lambda: [1])
    time.sleep(0.45)  # no reads: past the fresh time (0.18-0.22 s) and twice the memory time

    assert serving.serve(area, lambda: [2]).source == "memory_due"  # not waiting on the fetch
    assert serving.serve(mine, lambda: [2]).source == "stale"  # asked the shared layer first
    serving.settle()
    time.sleep(0.9)  # past the new list's grace too (0.78-0.82 s after its computation)

    assert serving.serve(area, lambda: [3]).source == "computed"  # too old to serve unasked


@override_settings(CLEAVE_RECOMMENDATIONS_PROTECTIONS=0)
def test_without_the_protections_a_list_past_its_memory_time_waits_for_its_fetch(
    settings: Any,
) -> None:
    settings.CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS = 0.1
    key = "recs:test:memory-baseline"
    serving.serve(key, lambda: [1])
    layered.invalidate(key)
    time.sleep(0.15)

    assert serving.serve(key, lambda: [2]).value == [2]  # the baseline serves nothing stale


def test_revalidations_run_once_per_queued_key_and_rest_between_them() -> None:
    runs: list[tuple[str, float]] = []

    def revalidate(key: str, compute: Callable[[], Any]) -> None:
        runs.append((key, time.perf_counter()))
        time.sleep(0.02)  # a recomputation

    queue = Revalidations()
    for key in ("a", "b", "a", "c"):  # "a" again while it is queued or running
        queue.schedule(key, list, revalidate)
    queue.settle()

    assert [key for key, _ in runs] == ["a", "b", "c"]
    gaps = [later - earlier for (_, earlier), (_, later) in zip(runs, runs[1:], strict=False)]
    assert min(gaps) >= 0.02 / REVALIDATION_SHARE - 0.005  # the run, and three times it resting
