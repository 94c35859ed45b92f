"""notifications on `/ws/v1`: `notification.new` on the user's own stream."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class NotificationNew(BaseModel):
    """A new inbox item (as `GET /api/v1/notifications` lists it), for the app's badge."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: int
    kind: str
    body: str
    data: dict[str, Any]
