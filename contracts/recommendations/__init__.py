"""What recommendations publishes: one call, the shows recommended to a user with their
reasons (a digest, a notification). It publishes no events: its inputs are ticketing's and
tracking's events, and its output is read (docs/recommendations.md)."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, call


class RecommendationsGet(ContractModel):
    user_id: int = Field(gt=0)
    limit: int = Field(default=10, ge=1, le=50)


class RecommendedShow(ContractModel):
    show_id: int
    title: str
    reasons: list[str]  # the reasons' codes, strongest signal first


class Recommendations(ContractModel):
    shows: list[RecommendedShow]
    degraded: bool  # the fallback answered: the stores behind the ranking were failing


class RecommendationsService(Protocol):
    @call(idempotent=True)
    def recommendations_get(self, query: RecommendationsGet) -> Recommendations: ...


RECOMMENDATIONS = Contract(context="recommendations", version="1.0", service=RecommendationsService)

__all__ = [
    "RECOMMENDATIONS",
    "RecommendationsGet",
    "RecommendationsService",
    "RecommendedShow",
    "Recommendations",
]
