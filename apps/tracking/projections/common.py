"""What tracking's projections share: the user of a subject, and points out of events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cleave.eventstore import RecordedEvent

SUBJECT_PREFIX = "user:"


def user_of_subject(subject: str) -> int | None:
    prefix, _, raw = subject.partition(":")
    if f"{prefix}:" != SUBJECT_PREFIX or not (raw.isascii() and raw.isdigit()):
        return None
    return int(raw)


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def rows_of(event: RecordedEvent) -> Sequence[list[Any]]:
    """The `[t_ms, lat, lon, accuracy, speed, heading, activity]` rows of a PointsRecorded."""
    rows: Sequence[list[Any]] = event.data.get("points", [])
    return rows
