"""tracking's implementation of its contract: contract models in, contract models out."""

from __future__ import annotations

from apps.tracking import selectors
from contracts.tracking import ConsentGet, ConsentState


class TrackingProvider:
    def consent_get(self, query: ConsentGet) -> ConsentState:
        granted = selectors.consent_granted(user_id=query.user_id)
        return ConsentState(user_id=query.user_id, granted=granted)
