"""identity on `/ws/v1`: `user.updated` on the user's own stream (their other devices)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProfileUpdated(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    display_name: str
    locale: str
    timezone: str
