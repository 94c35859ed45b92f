"""The kernel's models (Django looks for them here): the event bus's tables, the event store's,
per-subject data keys, the sagas' state, flags, the app-version policy and the answers stored
under idempotency keys."""

from cleave.app_versions.models import AppVersionPolicy, AppVersionPolicyChange
from cleave.crypto.models import SubjectKey
from cleave.events.models import (
    AggregateSequence,
    FailedDelivery,
    InboxEntry,
    InboxPosition,
    OutboxEvent,
)
from cleave.eventstore.models import (
    ProjectionAudit,
    ProjectionCheckpoint,
    StoredEvent,
    StoredSnapshot,
)
from cleave.flags.models import Flag, FlagChange
from cleave.idempotency.models import IdempotentRequest
from cleave.sagas.models import SagaLogEntry, SagaRun, SagaSignal, SagaStep

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
    "ProjectionAudit",
    "ProjectionCheckpoint",
    "StoredEvent",
    "StoredSnapshot",
    "SubjectKey",
    "SagaLogEntry",
    "SagaRun",
    "SagaSignal",
    "SagaStep",
]
