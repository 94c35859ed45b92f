"""Subscribers: `@subscriber(SomethingHappened)` in the consuming context's `subscribers.py`."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from cleave.contracts.base import Event

E = TypeVar("E", bound=Event)
Handler = Callable[[Any], None]
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class PermanentError(Exception):
    """Raised by a subscriber for an event it can never apply: dead-lettered at once, no retry."""


@dataclass(frozen=True)
class Subscriber:
    name: str  # "<context>.<function>": the inbox key, stable across refactors of the module
    context: str
    event: type[Event]
    handler: Handler
    upcasters: dict[int, Upcaster] = field(default_factory=dict)
    batch: bool = False  # the handler takes a list of events (in publish order)

    def apply(self, events: list[Event]) -> None:
        """Run the handler on `events`: once for a batch subscriber, else once per event."""
        if self.batch:
            self.handler(events)
            return
        for event in events:
            self.handler(event)

    def decode(self, envelope: dict[str, Any]) -> Event:
        """The event model for `envelope`, upcast from an older version if needed."""
        version = int(envelope["version"])
        if version > self.event.version:
            known = f"{self.event.event_type} v{self.event.version}"
            raise PermanentError(f"{self.name} knows up to {known}, got v{version}")
        while version < self.event.version:
            upcaster = self.upcasters.get(version)
            if upcaster is None:
                raise PermanentError(f"{self.name} has no upcaster from v{version}")
            envelope = {
                **envelope,
                "payload": upcaster(dict(envelope["payload"])),
                "version": version + 1,
            }
            version += 1
        return self.event.from_envelope(envelope)


class SubscriberRegistry:
    def __init__(self) -> None:
        self._by_name: dict[str, Subscriber] = {}
        self._by_type: dict[str, list[Subscriber]] = defaultdict(list)

    def add(self, subscriber: Subscriber) -> None:
        existing = self._by_name.get(subscriber.name)
        if existing is not None:
            if existing.handler is subscriber.handler:
                return
            raise ValueError(f"two subscribers are named {subscriber.name}")
        self._by_name[subscriber.name] = subscriber
        self._by_type[subscriber.event.event_type].append(subscriber)

    def remove(self, name: str) -> None:
        subscriber = self._by_name.pop(name, None)
        if subscriber is not None:
            self._by_type[subscriber.event.event_type].remove(subscriber)

    def get(self, name: str) -> Subscriber:
        return self._by_name[name]

    def for_type(self, event_type: str) -> list[Subscriber]:
        return self._by_type.get(event_type, [])

    def contexts_for(self, event_type: str) -> set[str]:
        return {subscriber.context for subscriber in self.for_type(event_type)}

    def all(self) -> list[Subscriber]:
        return list(self._by_name.values())


subscribers = SubscriberRegistry()


def _context_of(module: str) -> str:
    # apps.<context>.subscribers → <context>; test contexts use the same shape.
    parts = module.split(".")
    if "apps" in parts and parts.index("apps") + 1 < len(parts):
        return parts[parts.index("apps") + 1]
    return parts[-2] if len(parts) > 1 else parts[0]


def subscriber(
    event: type[E],
    *,
    upcasters: dict[int, Upcaster] | None = None,
    context: str | None = None,
    batch: bool = False,
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Declare `function(event)` as a subscriber of `event`, run once per event in effect.

    With `batch=True` the function takes a list of events instead (in publish order, each still
    applied once: the inbox rows commit with it). Use it where one statement for many events
    beats one per event (bulk inserts); a failure falls back to lists of one event.
    """

    def register(function: Callable[..., None]) -> Callable[..., None]:
        owner = context or _context_of(function.__module__)
        subscribers.add(
            Subscriber(
                name=f"{owner}.{function.__name__}",
                context=owner,
                event=event,
                handler=function,
                upcasters=dict(upcasters or {}),
                batch=batch,
            )
        )
        return function

    return register
