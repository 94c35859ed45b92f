"""The kernel's models (Django looks for them here): the event bus's tables."""

from cleave.events.models import (
    AggregateSequence,
    FailedDelivery,
    InboxEntry,
    InboxPosition,
    OutboxEvent,
)
from cleave.flags.models import Flag, FlagChange

__all__ = [
    "AggregateSequence",
    "FailedDelivery",
    "Flag",
    "FlagChange",
    "InboxEntry",
    "InboxPosition",
    "OutboxEvent",
]
