"""What goes into the store and what comes out of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from cleave.crypto.subject_keys import SubjectForgotten
from cleave.errors import Conflict


@dataclass(frozen=True)
class NewEvent:
    """An event to append. `type` is context-prefixed (`tracking.PointsRecorded`); `subject`
    (`user:<uuid>`) names whose personal data `data` is: it is then encrypted with that
    subject's data key, and unreadable once the subject is forgotten."""

    type: str
    data: Mapping[str, Any]
    schema_version: int = 1
    subject: str | None = None


@dataclass(frozen=True)
class RecordedEvent:
    """An event as read back: decrypted and upcast to the newest registered schema version."""

    position: int
    stream: str
    stream_version: int
    type: str
    schema_version: int
    data: Mapping[str, Any]
    subject: str | None
    metadata: Mapping[str, Any]
    recorded_at: datetime

    @property
    def category(self) -> str:
        return self.stream.split("-", 1)[0]


@dataclass(frozen=True)
class Snapshot:
    stream: str
    stream_version: int
    state: Mapping[str, Any] = field(default_factory=dict)


class WrongExpectedVersion(Conflict):
    """The stream moved on since the caller read it: read again, decide again, append again."""

    code: ClassVar[str] = "stream_version_conflict"
    message_template = (
        "Stream {stream} is at version {actual}, not the expected {expected}; "
        "read it again and retry."
    )

    def __init__(self, *, stream: str, expected: int | None, actual: int) -> None:
        super().__init__(details={"stream": stream, "expected": expected, "actual": actual})
        self.stream, self.expected, self.actual = stream, expected, actual


__all__ = ["NewEvent", "RecordedEvent", "Snapshot", "SubjectForgotten", "WrongExpectedVersion"]
