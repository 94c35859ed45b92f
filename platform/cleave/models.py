"""The kernel's models (Django looks for them here): the event bus's tables."""

from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent

__all__ = ["FailedDelivery", "InboxEntry", "OutboxEvent"]
