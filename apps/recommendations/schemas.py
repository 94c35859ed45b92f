"""recommendations's API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ninja import Schema
from pydantic import Field

from cleave.api import RequestSchema


class ReasonOut(Schema):
    code: str = Field(
        description="bought_together, near_your_places, popular, upcoming, in_this_area, "
        "next_area or busy_area (docs/recommendations.md)"
    )
    detail: str


class ItemOut(Schema):
    show_id: int
    title: str
    starts_at: datetime
    city: str
    cell: str
    score: float
    reasons: list[ReasonOut]


class ListOut(Schema):
    items: list[ItemOut]
    variant: str | None = Field(description="The ranking variant; null for the anonymous list.")
    degraded: bool = Field(description="True when served from the fallback (stores failing).")


class NearbyOut(Schema):
    cell: str
    items: list[ItemOut]
    degraded: bool


class LimitIn(Schema):
    limit: int = Field(default=20, ge=1, le=50)


class LocationIn(Schema):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class FeedbackIn(RequestSchema):
    show_id: int = Field(gt=0)
    kind: Literal["impression", "click", "dismiss"]


class FeedbackOut(Schema):
    show_id: int
    kind: str
    variant: str
