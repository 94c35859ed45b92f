"""The kernel's models (Django looks for them here): the event bus's tables, flags, the
app-version policy and the answers stored under idempotency keys."""

from cleave.app_versions.models import AppVersionPolicy, AppVersionPolicyChange
from cleave.events.models import (
    AggregateSequence,
    FailedDelivery,
    InboxEntry,
    InboxPosition,
    OutboxEvent,
)
from cleave.flags.models import Flag, FlagChange
from cleave.idempotency.models import IdempotentRequest

__all__ = [
    "AggregateSequence",
    "AppVersionPolicy",
    "AppVersionPolicyChange",
    "FailedDelivery",
    "Flag",
    "FlagChange",
    "IdempotentRequest",
    "InboxEntry",
    "InboxPosition",
    "OutboxEvent",
]
