"""The kernel's models (Django looks for them here): the event bus's tables, flags, and the
answers stored under idempotency keys."""

from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent
from cleave.flags.models import Flag, FlagChange
from cleave.idempotency.models import IdempotentRequest

__all__ = ["FailedDelivery", "Flag", "FlagChange", "IdempotentRequest", "InboxEntry", "OutboxEvent"]
