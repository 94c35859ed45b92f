"""recommendations's implementation of its contract: contract models in, contract models out."""

from __future__ import annotations

from apps.recommendations.services import lists
from apps.recommendations.services.ranking import DEFAULT_VARIANT
from contracts.recommendations import Recommendations, RecommendationsGet, RecommendedShow


class RecommendationsProvider:
    def recommendations_get(self, query: RecommendationsGet) -> Recommendations:
        # Another context's call is no exposure of the experiment: the default ranking.
        served = lists.for_you_serve(user_id=query.user_id, variant=DEFAULT_VARIANT)
        shows = [
            RecommendedShow(
                show_id=item["show_id"],
                title=item["title"],
                reasons=[reason["code"] for reason in item["reasons"]],
            )
            for item in served.value[: query.limit]
        ]
        return Recommendations(shows=shows, degraded=served.degraded)
