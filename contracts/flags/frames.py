"""Flags on `/ws/v1`: `flags.changed` on the `flags` stream every socket is on."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FlagsChanged(BaseModel):
    """Refetch `GET /api/v1/flags` (its ETag changes with `version`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
