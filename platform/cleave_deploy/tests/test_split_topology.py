"""What `make split` gives each service: its contexts, its database, where the others are.

The topology itself runs in CI (.ci/run starts it and passes the black-box e2e suite through
its nginx); these tests pin the wiring that suite relies on.
"""

from __future__ import annotations

import pytest

from cleave import contexts
from cleave.config import load
from cleave.contexts import Context, Edge, Realtime
from cleave_deploy.topology import SplitError, Topology, service_env

# A service per installed context (from the declarations, so a new context needs no edit here).
SERVICES = (*(context.label for context in contexts.installed()), "monolith", "realtime")
KEYS = {name: "k" for name in SERVICES}
KEYS |= {f"{name}.{kind}": f"{name}-{kind}" for name in SERVICES for kind in ("encryption", "hash")}
KEYS["secret_key"] = "split-topology-test-secret-" + "abcdefghijklmnopqrstuvwxyz0123456789"


def test_each_context_is_its_own_service_and_finds_the_others_by_url() -> None:
    topology = Topology.from_env({"SPLIT_BASE_PORT": "9000", "SPLIT_DATABASE_PREFIX": "t"})
    messaging = service_env(topology, "messaging", KEYS)
    assert messaging["CLEAVE_CONTEXTS"] == "messaging"
    assert messaging["DATABASE_URL"].endswith("/t_messaging")
    assert messaging["CLEAVE_IDENTITY_URL"] == "http://127.0.0.1:9001"
    assert messaging["CLEAVE_NOTIFICATIONS_URL"] == "http://127.0.0.1:9003"
    assert messaging["CLEAVE_JWKS_URL"] == "http://127.0.0.1:9001/.well-known/jwks.json"
    assert messaging["CLEAVE_TASK_QUEUE"] == "celery.messaging"
    assert messaging["CLEAVE_FLAGS_URL"] == "http://127.0.0.1:9001"  # the edge holds the flags
    assert "CLEAVE_MESSAGING_URL" not in messaging
    realtime = service_env(topology, "realtime", KEYS)
    assert (realtime["CLEAVE_CONTEXTS"], realtime["DATABASE_URL"]) == (
        "messaging",
        messaging["DATABASE_URL"],  # it serves messaging's streams from messaging's data
    )
    assert realtime["CLEAVE_HASH_KEY"] == messaging["CLEAVE_HASH_KEY"] == "messaging-hash"
    # Every generated environment is one the settings accept.
    for service in topology.services:
        load(service_env(topology, service, KEYS))


def test_the_monolith_layout_is_the_same_shape_with_one_service() -> None:
    topology = Topology.from_env({"SPLIT_LAYOUT": "monolith"})
    assert list(topology.services) == ["monolith", "realtime"]
    env = service_env(topology, "monolith", KEYS)
    assert env["CLEAVE_CONTEXTS"] == ",".join(topology.contexts)
    assert env["CLEAVE_CONTEXTS"].startswith("identity,messaging,notifications")
    assert not [key for key in env if key.endswith("_URL") and key.startswith("CLEAVE_")]
    with pytest.raises(SplitError, match="SPLIT_LAYOUT"):
        Topology.from_env({"SPLIT_LAYOUT": "mesh"})


def test_extra_settings_reach_every_service_but_never_override_the_topology() -> None:
    raw = "CLEAVE_MESSAGING_SEND_RATE=1000/s, CLEAVE_SERVICE_NAME=evil"
    topology = Topology.from_env({"SPLIT_SERVICE_ENV": raw})
    for service in topology.services:
        env = service_env(topology, service, KEYS)
        assert env["CLEAVE_MESSAGING_SEND_RATE"] == "1000/s"
        assert env["CLEAVE_SERVICE_NAME"] == service
    for bad in ("DATABASE_URL=x", "CLEAVE_X", "CLEAVE_A-B=1"):
        with pytest.raises(SplitError, match="SPLIT_SERVICE_ENV"):
            Topology.from_env({"SPLIT_SERVICE_ENV": bad})


def test_the_topology_follows_the_declarations_it_is_given() -> None:
    declared = [
        Context(label="accounts", app="x.accounts", edge=Edge("accounts.User"), provides=("keys",)),
        Context(label="billing", app="x.billing", realtime=Realtime(stream_families=("inv",))),
        Context(label="search", app="x.search"),
    ]
    topology = Topology.from_env({"SPLIT_BASE_PORT": "9000"}, declared)
    assert topology.services == {
        "accounts": ("accounts",),
        "billing": ("billing",),
        "search": ("search",),
        "realtime": ("billing",),
    }
    names = ("accounts", "billing", "search")
    keys = KEYS | {f"{name}{kind}": "k" for name in names for kind in ("", ".encryption", ".hash")}
    search = service_env(topology, "search", keys)
    assert search["CLEAVE_KEYS_URL"] == search["CLEAVE_ACCOUNTS_URL"] == "http://127.0.0.1:9001"
    assert search["CLEAVE_JWKS_URL"] == "http://127.0.0.1:9001/.well-known/jwks.json"
    assert search["CLEAVE_BILLING_URL"] == "http://127.0.0.1:9002"
    # Without a context that streams, sockets live with the edge.
    quiet = Topology.from_env({}, [declared[0], declared[2]])
    assert quiet.services["realtime"] == ("accounts",)
    with pytest.raises(SplitError, match="edge"):
        Topology.from_env({}, declared[1:])


def test_the_realtime_service_hosts_one_context_and_asks_the_others() -> None:
    declared = [
        Context(label="accounts", app="x.accounts", edge=Edge("accounts.User")),
        Context(label="chat", app="x.chat", realtime=Realtime(stream_families=("room",))),
        Context(label="maps", app="x.maps", realtime=Realtime(stream_families=("pos",))),
    ]
    topology = Topology.from_env({"SPLIT_BASE_PORT": "9000"}, declared)
    # Only one database can be its own: the first context with streams, by default.
    assert topology.services["realtime"] == ("chat",)
    assert topology.database("realtime").endswith("_chat")
    names = ("accounts", "chat", "maps")
    keys = KEYS | {f"{name}{kind}": "k" for name in names for kind in ("", ".encryption", ".hash")}
    # …and it knows where the others are, to ask them about their streams and frames.
    env = service_env(topology, "realtime", keys)
    assert env["CLEAVE_MAPS_URL"] == topology.url("maps")
    assert "CLEAVE_CHAT_URL" not in env
    chosen = Topology.from_env({"SPLIT_REALTIME_CONTEXT": "maps"}, declared)
    assert chosen.services["realtime"] == ("maps",)
    with pytest.raises(SplitError, match="SPLIT_REALTIME_CONTEXT"):
        Topology.from_env({"SPLIT_REALTIME_CONTEXT": "nope"}, declared)
