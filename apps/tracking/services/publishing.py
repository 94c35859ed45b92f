"""Integration events whose ids derive from the facts they tell (uuid5), published once."""

from __future__ import annotations

import uuid

from cleave.contracts import Event
from cleave.databases import database_for
from cleave.events import publish
from cleave.events.models import OutboxEvent
from cleave.events.outbox import context_of_event

# Namespace of the ids of tracking's integration events (uuid5 of what they describe).
EVENT_NAMESPACE = uuid.UUID("6f1f3c9e-4d0a-4f57-9a53-2f1e8d2b7c10")


def fact_id(*parts: object) -> uuid.UUID:
    """The id of the event telling one fact: the same fact, the same id."""
    return uuid.uuid5(EVENT_NAMESPACE, ":".join(str(part) for part in parts))


def publish_once(event: Event) -> None:
    """Publish unless an event with this id is still in the outbox: a projection's rebuild
    applies the same facts again. Past the outbox's retention (`CLEAVE_EVENTS_RETENTION_DAYS`)
    a rebuild publishes them again. The caller's transaction."""
    alias = database_for(context_of_event(event.event_type))
    if not OutboxEvent.objects.using(alias).filter(event_id=event.event_id).exists():
        publish(event)
