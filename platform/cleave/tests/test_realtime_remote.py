"""A realtime process asks the service hosting a context about its streams and frames, over
real HTTP (cleave.realtime.remote → cleave.realtime.hosted): the same answers as in process,
brief caching of `readable` with a bounded life, and a sick host is a deny or an error frame,
never an exception.

The probe context is hosted by this process's own WSGI app on a loopback port, so a test can
change what it answers and count what it was asked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.test import override_settings

from cleave.auth.principal import Principal
from cleave.realtime.frames import FrameError
from cleave.realtime.remote import RemoteContext
from cleave.remote import breakers, service_tokens
from cleave.testing.servers import threaded_wsgi_server
from cleave.testing.service_identity import acting_as_service
from cleave.tests.realtime_probe import Host, hosted

pytestmark = pytest.mark.django_db

ADA = Principal(user_id=1, session_id="s-ada", roles=frozenset(), expires_at=2**31)
BOB = Principal(user_id=2, session_id="s-bob", roles=frozenset({"auditor"}), expires_at=2**31)


@pytest.fixture
def keys() -> Iterator[dict[str, Any]]:
    """This test process as service "realtime", trusted by the probe's JWKS."""
    with acting_as_service("realtime") as keys:
        yield keys


@pytest.fixture
def probe(keys: dict[str, Any]) -> Iterator[tuple[Host, str]]:
    with (
        hosted() as host,
        override_settings(ROOT_URLCONF="cleave.tests.realtime_probe_urls"),
        threaded_wsgi_server() as url,
        override_settings(
            CLEAVE_REALTIME_GRANT_SECONDS=0.5,
            CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS=0.5,
            CLEAVE_BREAKER_FAIL_MAX=3,
            CLEAVE_BREAKER_RESET_SECONDS=0.3,
        ),
    ):
        breakers.reset()
        yield host, url
        breakers.reset()


@pytest.fixture
def remote(probe: tuple[Host, str]) -> Iterator[RemoteContext]:
    context = RemoteContext("probe", probe[1])
    yield context
    context.close()


def test_initial_streams_of_a_batch_are_one_request(
    probe: tuple[Host, str], remote: RemoteContext
) -> None:
    host, _ = probe
    host.readers = {"pin:1": {1}, "pin:7": {1, 2}, "pinf:3": {2}}
    assert remote.initial_many([ADA, BOB]) == {1: ["pin:1", "pin:7"], 2: ["pin:7", "pinf:3"]}
    # "pinf" registered no initial_many: asked per principal, by the host, still one request.
    assert host.asked == {"initial": 1}


def test_readable_is_the_hosts_answer_kept_briefly(
    probe: tuple[Host, str], remote: RemoteContext
) -> None:
    host, _ = probe
    host.readers = {"pin:1": {1}, "pin:2": {2}}
    asked = ["pin:1", "pin:2", "pin:x", "conv:1", "user:1"]
    assert remote.readable(ADA, asked) == {"pin:1"}  # nothing of other families or contexts
    assert remote.readable(ADA, ["pin:1", "pin:2"]) == {"pin:1"}
    assert host.asked == {"readable": 1}  # the second answer came from the cache
    host.readers["pin:1"] = set()  # revoked
    assert remote.readable(ADA, ["pin:1"]) == {"pin:1"}  # still kept…
    time.sleep(0.55)
    assert remote.readable(ADA, ["pin:1"]) == set()  # …for CLEAVE_REALTIME_GRANT_SECONDS only
    assert remote.readable(BOB, ["pin:2"]) == {"pin:2"}  # kept per user
    assert host.asked == {"readable": 3}


def test_replay_asks_the_host_only_for_families_that_filter_history(
    probe: tuple[Host, str], remote: RemoteContext
) -> None:
    host, _ = probe
    host.readers = {"pin:1": {1}, "pinf:1": {1}}
    plain = {"pin:1": [(1, "a"), (2, "b")], "pin:2": [(1, "c")]}
    assert remote.replay(ADA, plain) == {"pin:1": ["a", "b"], "pin:2": None}
    before = dict(host.asked)
    assert remote.replay(ADA, plain) == {"pin:1": ["a", "b"], "pin:2": None}
    assert host.asked == before  # pin filters nothing: the cached `readable` answered
    filtering = {"pinf:1": [(1, "a"), (2, "the secret"), (3, "c")], "pinf:2": [(1, "d")]}
    for _ in range(2):
        assert remote.replay(ADA, filtering) == {"pinf:1": ["a", "c"], "pinf:2": None}
    assert host.asked["replay"] == 2  # pinf's history is asked about every time


def test_a_long_history_is_asked_about_in_parts_the_host_accepts(
    probe: tuple[Host, str], remote: RemoteContext
) -> None:
    host, _ = probe
    streams = [f"pinf:{n}" for n in range(8)]
    host.readers = dict.fromkeys(streams, {1})
    frame = '{"type": "event", "data": "' + "x" * 300 + '"}'
    history = {stream: [(seq, frame) for seq in range(1, 501)] for stream in streams}
    # 8 × 500 frames of ~330 bytes: 1.3 MB, past the host's 1 MiB body limit in one request —
    # sent as several requests, every frame answered (in the deadline of a loaded machine).
    with override_settings(CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS=5):
        answered = remote.replay(ADA, history)
    assert answered == {stream: [frame] * 500 for stream in streams}
    assert host.asked["replay"] > 1
    assert remote.replay(ADA, {}) == {}


def test_a_frame_is_handled_by_the_host_as_the_sockets_user(
    probe: tuple[Host, str], remote: RemoteContext
) -> None:
    ack = json.loads(remote.handle_frame(BOB, {"type": "probe.echo", "id": "f1", "text": "hi"}))
    assert ack == {"type": "ack", "id": "f1", "text": "hi", "user_id": 2}
    errors = {}
    for name, frame in {
        "refused": {"type": "probe.echo", "id": 2, "text": "refuse"},
        "invalid": {"type": "probe.echo", "id": 3, "text": 5},
        "unknown": {"type": "probe.other", "id": 4},
    }.items():
        with pytest.raises(FrameError) as raised:
            remote.handle_frame(BOB, frame)
        errors[name] = (raised.value.code, raised.value.frame_id)
    assert errors == {
        "refused": ("probe.refused", 2),
        "invalid": ("invalid_frame", 3),
        "unknown": ("unknown_type", 4),
    }


def test_a_dead_host_is_a_deny_and_an_error_frame_and_opens_the_breaker(
    probe: tuple[Host, str],
) -> None:
    dead = RemoteContext("probe", "http://127.0.0.1:9")
    assert dead.initial_many([ADA]) == {}
    assert dead.readable(ADA, ["pin:1"]) == set()
    with pytest.raises(FrameError) as raised:
        dead.handle_frame(ADA, {"type": "probe.echo", "id": 9, "text": "x"})
    assert (raised.value.code, raised.value.frame_id) == ("contract_unavailable", 9)
    assert breakers.states() == {"probe": "open"}
    started = time.monotonic()
    assert dead.replay(ADA, {"pinf:1": [(1, "a")]}) == {"pinf:1": None}
    assert time.monotonic() - started < 0.2  # refused by the breaker, not tried
    dead.close()


def test_a_slow_host_times_out_and_a_full_pool_waits_only_briefly(
    probe: tuple[Host, str],
) -> None:
    host, url = probe
    with override_settings(
        CLEAVE_REALTIME_REMOTE_CONNECTIONS=1,
        CLEAVE_REALTIME_REMOTE_POOL_TIMEOUT_SECONDS=0.1,
        CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS=3,
    ):
        slow = RemoteContext("probe", url)
        outcomes: list[tuple[str, float]] = []

        def send(sleep_ms: int) -> None:
            started = time.monotonic()
            try:
                slow.handle_frame(ADA, {"type": "probe.echo", "text": "x", "sleep_ms": sleep_ms})
                outcomes.append(("ack", time.monotonic() - started))
            except FrameError as error:
                outcomes.append((error.code, time.monotonic() - started))

        first = threading.Thread(target=send, args=(1000,))
        first.start()
        time.sleep(0.2)  # the first frame holds the one connection
        send(0)
        first.join()
        # One connection: the second frame is refused after the pool's 0.1 s, not after the
        # first frame's second; the first is answered.
        (refused, refused_after), (answered, _) = outcomes
        assert (refused, answered) == ("contract_unavailable", "ack")
        assert refused_after < 0.7
        with override_settings(CLEAVE_REALTIME_REMOTE_TIMEOUT_SECONDS=0.3):
            slow.close()  # a client with the shorter deadline
            send(1500)
        assert outcomes[-1][0] == "contract_unavailable"
        assert outcomes[-1][1] < 1.2  # the 0.3 s deadline, not the host's 1.5 s
        slow.close()
    assert host.asked["frame"] == 2  # the pool's refusal never reached the host


def test_only_the_contexts_service_tokens_are_answered(
    probe: tuple[Host, str], keys: dict[str, Any]
) -> None:
    host, url = probe
    host.readers = {"pin:1": {1}}
    body = {
        "principal": {"user_id": 1, "session_id": "s", "expires_at": 2**31},
        "streams": ["pin:1"],
    }
    anonymous = httpx.post(f"{url}/internal/_realtime/probe/readable", json=body)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (
        401,
        "service_token_invalid",
    )
    other = service_tokens.signer.token_for("elsewhere", None)  # another audience
    refused = httpx.post(
        f"{url}/internal/_realtime/probe/readable",
        json=body,
        headers={"Authorization": f"Bearer {other}"},
    )
    assert refused.status_code == 401
    # A realtime process whose key the host does not trust is denied, not crashed.
    stranger, _ = service_tokens.generate_key("realtime")
    with override_settings(CLEAVE_SERVICE_KEY=stranger):
        service_tokens.signer.forget()
        untrusted = RemoteContext("probe", url)
        assert untrusted.readable(ADA, ["pin:1"]) == set()
        untrusted.close()
    service_tokens.signer.forget()
    assert "readable" not in host.asked
