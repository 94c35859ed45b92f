"""recommendations' reads while Redis is down, then PostgreSQL too (issue 22): never a server
error, and never someone else's personal list.

`web` (granian) runs against the test's own cluster and Redis (no persistence: it comes back
empty), with short cache lifetimes so that reads must reach the stores. Reads run on a timer from
a thread: "popular near me" by cell and by point (anonymous) and "for you" for two accounts
(bearer tokens) whose lists differ (each bought a show the other did not). In the order the
issue names:

1. Redis is stopped. The shared cache, the coalescing lock and the revocation cache are gone;
   PostgreSQL answers, so a token is still checked (the sessions' owner reads its rows) and
   "for you" is the caller's own last good list.
2. PostgreSQL is stopped too. Now no token can be checked: "for you" answers the anonymous
   popular list (`variant: null`), never a personal one.
3. PostgreSQL is started (Redis still down): tokens are checked again, each caller's own list.
4. Redis is started: answers are fresh again (not degraded), and a show published then reaches
   the nearby list.

Every answer meanwhile is a 200; those that could not reach a store marked `"degraded": true`.
Phase 1 is Redis down alone (the restart of a cache node); phase 2 is the only way a token cannot
be checked (with PostgreSQL alone down the revocation cache still vouches for it), so it is the
combined case worth running; phase 3 shows the unchecked state lasts only as long as both are
down.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.faults.components import real_mode
from tests.faults.conftest import BOUNDED
from tests.faults.probes import report, signed_in
from tests.faults.recommendations_reads import SHORT_CACHE, Read, Reader, seed, wait_for_read

REDIS_ALONE_SECONDS = 5 if BOUNDED else 15
BOTH_SECONDS = 5 if BOUNDED else 10
REDIS_AGAIN_SECONDS = 3 if BOUNDED else 10
# What the memory layer held when Redis stopped has expired by then (it keeps a list 1 s).
MEMORY_AT_MOST_SECONDS = 2.0
# A process trusts its last check of a session for 1 s (CLEAVE_REVOCATION_RECHECK_SECONDS).
CHECKED_AT_MOST_SECONDS = 2.0
SHOWS = ("5001", "5002", "5004")
# The read's deadline (0.5 s) and a shared machine's slack; far below the client's timeout.
SLOWEST_SECONDS = 2.5


def _between(reads: list[Read], start: float, end: float) -> list[Read]:
    return [r for r in reads if r.started >= start and r.ended <= end]


def _warm(reader: Reader, paths: int, timeout: float = 30) -> float:
    """When every path has answered a good list: a cold process may pass the deadline on its
    first reads (degraded, empty), which says nothing about an outage."""
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        if len({(r.path, r.token) for r in list(reader.reads) if r.degraded is False}) == paths:
            return time.monotonic()
        time.sleep(0.1)
    raise TimeoutError(f"not every path answered a good list in {timeout}s")


@pytest.fixture(scope="module")
def redis_then_postgres_down() -> Iterator[dict[str, Any]]:
    with real_mode(**SHORT_CACHE) as real:
        web_process, web = real.stack.web()
        alice, bob = signed_in(web, 1), signed_in(web, 2)
        # Each bought one show: "for you" leaves it out, so their lists differ from each other
        # and from the popular list (every show).
        seeded = seed(real.env, *SHOWS, f"{alice['user']['id']}:5001", f"{bob['user']['id']}:5002")
        owner = {alice["access"]: "alice", bob["access"]: "bob"}
        paths = [
            (f"/api/v1/recommendations/nearby/cells/{seeded['cell']}", None),
            ("/api/v1/recommendations/nearby?lat=48.8566&lon=2.3522", None),
            ("/api/v1/recommendations?limit=10", alice["access"]),
            ("/api/v1/recommendations?limit=10", bob["access"]),
        ]
        reader = Reader(web, paths, interval=0.05)
        reader.start()
        try:
            warmed = _warm(reader, len(paths))
            time.sleep(2)
            real.redis.stop()
            redis_down = time.monotonic()
            time.sleep(REDIS_ALONE_SECONDS)
            real.pg.stop("fast")
            pg_down = time.monotonic()
            time.sleep(BOTH_SECONDS)
            pg_restarting = time.monotonic()
            real.pg.start()
            pg_up = time.monotonic()
            verified_again = wait_for_read(
                reader, pg_up, lambda r: r.personal and r.variant is not None
            )
            time.sleep(max(0.0, REDIS_AGAIN_SECONDS - (time.monotonic() - pg_up)))
            redis_restarting = time.monotonic()
            real.redis.start()
            redis_up = time.monotonic()
            fresh_after = wait_for_read(
                reader, redis_up, lambda r: r.degraded is False and not r.personal
            )
            personal_fresh_after = wait_for_read(
                reader, redis_up, lambda r: r.degraded is False and r.personal
            )
            seed(real.env, "5003")
            published = time.monotonic()
            new_show_after = wait_for_read(reader, published, lambda r: 5003 in r.show_ids())
            time.sleep(1)
        finally:
            reader.stop()
        reads = list(reader.reads)
        before = [r for r in reads if r.started >= warmed and r.ended < redis_down]
        lists_before = {
            owner[r.token]: (r.variant, tuple(r.show_ids())) for r in before if r.token is not None
        }
        popular = set(map(int, SHOWS))
        redis_alone = _between(reads, redis_down, pg_down)
        both = _between(reads, pg_down, pg_restarting)
        redis_again = _between(reads, pg_up, redis_restarting)
        outage = _between(reads, redis_down, redis_restarting)
        after = [r for r in reads if r.started > published + new_show_after]

        def own_or_popular(read: Read) -> bool:
            if read.variant is None:  # the anonymous popular list: only ever degraded
                return bool(read.degraded) and set(read.show_ids()) == popular
            return (read.variant, tuple(read.show_ids())) == lists_before[owner[read.token]]

        def someone_elses(read: Read) -> bool:
            mine = owner[read.token]
            return any(
                (read.variant, tuple(read.show_ids())) == listed
                for who, listed in lists_before.items()
                if who != mine
            )

        personal_outage = [r for r in outage if r.personal]
        late_alone = [r for r in redis_alone if r.started >= redis_down + MEMORY_AT_MOST_SECONDS]
        unchecked = [
            r for r in both if r.personal and r.started >= pg_down + CHECKED_AT_MOST_SECONDS
        ]
        figures = {
            "outage_s": (REDIS_ALONE_SECONDS, BOTH_SECONDS, REDIS_AGAIN_SECONDS),
            "reads": len(reads),
            "reads_redis_alone": len(redis_alone),
            "reads_both_down": len(both),
            "reads_redis_again": len(redis_again),
            "statuses": sorted({r.answer.status for r in reads}),
            "server_errors": sum(1 for r in reads if r.answer.status >= 500),
            "no_answer": sum(1 for r in reads if r.answer.status == 0),
            "degraded_warming": sum(1 for r in reads if r.ended < warmed and r.degraded),
            "degraded_before": sum(1 for r in before if r.degraded),
            "late_redis_alone": len(late_alone),
            "late_redis_alone_degraded": sum(1 for r in late_alone if r.degraded),
            "personal_during": len(personal_outage),
            "personal_own_list": sum(1 for r in personal_outage if r.variant is not None),
            "personal_popular_list": sum(1 for r in personal_outage if r.variant is None),
            "personal_neither": sum(1 for r in personal_outage if not own_or_popular(r)),
            "personal_someone_elses": sum(1 for r in reads if r.personal and someone_elses(r)),
            "unchecked_late_both": len(unchecked),
            "unchecked_late_popular": sum(1 for r in unchecked if r.variant is None),
            "slowest_outage_s": round(max((r.answer.seconds for r in outage), default=0), 2),
            "slowest_redis_alone_s": round(
                max((r.answer.seconds for r in redis_alone), default=0), 2
            ),
            "slowest_both_down_s": round(max((r.answer.seconds for r in both), default=0), 2),
            "slowest_redis_again_s": round(
                max((r.answer.seconds for r in redis_again), default=0), 2
            ),
            "checked_again_after_pg_s": round(verified_again, 1),
            "fresh_after_redis_s": round(fresh_after, 1),
            "personal_fresh_after_redis_s": round(personal_fresh_after, 1),
            "new_show_after_s": round(new_show_after, 1),
            "degraded_after": sum(1 for r in after if r.degraded),
            "web_alive": web_process.alive(),
        }
        report("recommendations with redis down, then postgres", **figures)
        yield {**figures, "before": before, "lists_before": lists_before, "outage": outage,
               "redis_again": redis_again, "after": after}  # fmt: skip


def test_no_read_fails_while_redis_then_postgres_are_down(
    redis_then_postgres_down: dict[str, Any],
) -> None:
    figures = redis_then_postgres_down
    assert figures["server_errors"] == 0, figures
    assert figures["no_answer"] == 0, figures
    assert figures["statuses"] == [200], figures
    # No read waits for a store: the slowest is about the deadline (0.5 s), never a timeout.
    assert all(r.answer.seconds < SLOWEST_SECONDS for r in figures["outage"]), figures
    assert figures["web_alive"]


def test_reads_without_redis_answer_degraded_from_what_was_good(
    redis_then_postgres_down: dict[str, Any],
) -> None:
    figures = redis_then_postgres_down
    assert figures["before"], figures
    assert figures["degraded_before"] == 0, figures
    assert all(5001 in r.show_ids() for r in figures["before"] if not r.personal)
    # Once the memory layer's lists expired, nothing can come from the shared cache.
    assert figures["late_redis_alone"] >= 6, figures
    assert figures["late_redis_alone_degraded"] == figures["late_redis_alone"], figures


def test_a_caller_gets_their_own_list_or_the_popular_one_never_someone_elses(
    redis_then_postgres_down: dict[str, Any],
) -> None:
    figures = redis_then_postgres_down
    lists = figures["lists_before"]
    assert set(lists) == {"alice", "bob"}, lists
    assert lists["alice"] != lists["bob"], lists
    assert figures["personal_someone_elses"] == 0, figures
    assert figures["personal_neither"] == 0, figures
    # Checked while PostgreSQL answers (Redis down): their own list.
    assert figures["personal_own_list"] > 0, figures
    # Not checkable with both down: the anonymous popular list, every time.
    assert figures["unchecked_late_both"] > 0, figures
    assert figures["unchecked_late_popular"] == figures["unchecked_late_both"], figures


def test_answers_are_fresh_again_once_the_stores_are_back(
    redis_then_postgres_down: dict[str, Any],
) -> None:
    figures = redis_then_postgres_down
    assert figures["checked_again_after_pg_s"] < 30, figures
    assert any(r.personal and r.variant is not None for r in figures["redis_again"]), figures
    assert figures["fresh_after_redis_s"] < 30, figures
    assert figures["personal_fresh_after_redis_s"] < 30, figures
    assert figures["new_show_after_s"] < 30, figures
    assert figures["after"], figures
    assert figures["degraded_after"] == 0, figures
