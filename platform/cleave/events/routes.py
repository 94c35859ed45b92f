"""Which contexts consume each published event: `contracts/subscriptions.json`.

A relay routes an event to the queue of every subscribing context (`events.<context>`). In the
monolith it knows them all from its own subscriber registry; an extracted service hosts only its
own subscribers, so it would never send `identity.user_deleted` to messaging's queue. The table
is generated with the contract snapshot (`manage.py contracts snapshot`, with every context
installed) and CI refuses a stale one, so each service routes to contexts it does not host.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from cleave.contracts.base import Contract
from cleave.events.subscribers import Subscriber

ROUTES_PATH = Path(__file__).resolve().parents[3] / "contracts" / "subscriptions.json"


def build(contracts: Iterable[Contract], subscribers: Iterable[Subscriber]) -> dict[str, list[str]]:
    """{event_type: [consuming contexts]} for the events published in contracts/."""
    published = {event.event_type for contract in contracts for event in contract.events}
    routes: dict[str, set[str]] = {}
    for subscriber in subscribers:
        if subscriber.event.event_type in published:
            routes.setdefault(subscriber.event.event_type, set()).add(subscriber.context)
    return {event_type: sorted(routes[event_type]) for event_type in sorted(routes)}


def render(routes: dict[str, list[str]]) -> str:
    return json.dumps(routes, indent=2, sort_keys=True) + "\n"


@cache
def recorded(path: Path = ROUTES_PATH) -> dict[str, frozenset[str]]:
    if not path.exists():
        return {}
    loaded: dict[str, list[str]] = json.loads(path.read_text())
    return {event_type: frozenset(contexts) for event_type, contexts in loaded.items()}


def consumers_of(event_type: str) -> frozenset[str]:
    """The contexts that consume `event_type` anywhere in the deployment."""
    return recorded().get(event_type, frozenset())
