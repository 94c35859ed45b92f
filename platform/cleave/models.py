"""The kernel's models (Django looks for them here): the event bus's tables."""

from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent
from cleave.flags.models import Flag, FlagChange

__all__ = ["FailedDelivery", "Flag", "FlagChange", "InboxEntry", "OutboxEvent"]
