"""Cleave's event bus: transactional outbox, Celery (or in-process) delivery, idempotent inbox.

publish(event)              in a service's transaction
@subscriber(EventType)      in the consuming context's subscribers.py
raise PermanentError(...)   from a subscriber: dead-letter now, never retry
"""

from cleave.events.outbox import PublishOutsideTransaction, captured_events, publish, publish_many
from cleave.events.subscribers import PermanentError, subscriber

__all__ = [
    "PermanentError",
    "PublishOutsideTransaction",
    "captured_events",
    "publish",
    "publish_many",
    "subscriber",
]
