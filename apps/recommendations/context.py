"""recommendations declares itself: read models fed by ticketing's and tracking's events, and a
cached, degradable read path for "for you" and "popular near me" (docs/recommendations.md)."""

from collections.abc import Mapping

from cleave.contexts import Context, GatewayCache


def _settings(env: Mapping[str, str]) -> dict[str, float]:
    def number(name: str, default: str) -> float:
        return float(env.get(name, default))

    return {
        # A computed list is fresh this long (each entry's TTL is jittered ±10 % so keys
        # computed together do not expire together), then served stale while one request
        # recomputes it, for the grace window after that.
        "CLEAVE_RECOMMENDATIONS_FRESH_SECONDS": number(
            "CLEAVE_RECOMMENDATIONS_FRESH_SECONDS", "30"
        ),
        "CLEAVE_RECOMMENDATIONS_GRACE_SECONDS": number(
            "CLEAVE_RECOMMENDATIONS_GRACE_SECONDS", "300"
        ),
        # The per-process memory layer in front of the shared cache: short, since it bounds how
        # long another process may still show a list an event invalidated.
        "CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS": number(
            "CLEAVE_RECOMMENDATIONS_MEMORY_SECONDS", "1"
        ),
        # A read that needs the shared cache or the database answers from the fallback past this.
        "CLEAVE_RECOMMENDATIONS_DEADLINE_SECONDS": number(
            "CLEAVE_RECOMMENDATIONS_DEADLINE_SECONDS", "0.5"
        ),
        # The coalescing lock's lifetime: a computer that died frees the key after this.
        "CLEAVE_RECOMMENDATIONS_LOCK_SECONDS": number("CLEAVE_RECOMMENDATIONS_LOCK_SECONDS", "5"),
        # Consecutive failures that open the circuit breaker, and how long it stays open before
        # one request may try the stores again.
        "CLEAVE_RECOMMENDATIONS_BREAKER_FAILURES": number(
            "CLEAVE_RECOMMENDATIONS_BREAKER_FAILURES", "3"
        ),
        "CLEAVE_RECOMMENDATIONS_BREAKER_RESET_SECONDS": number(
            "CLEAVE_RECOMMENDATIONS_BREAKER_RESET_SECONDS", "5"
        ),
        # 0 switches coalescing and stale-while-revalidate off: the benchmark's baseline only.
        "CLEAVE_RECOMMENDATIONS_PROTECTIONS": number("CLEAVE_RECOMMENDATIONS_PROTECTIONS", "1"),
    }


CONTEXT = Context(
    label="recommendations",
    app="apps.recommendations",
    url_prefixes=("/api/v1/recommendations",),
    settings=_settings,
    # "Popular near me" per cell is the same for everyone (no auth; the API answers it
    # `public, max-age=5`, a degraded one `no-store`): the gateway of a split topology keeps it
    # as long, so a surge on one area reaches this service about once per cell every 5 s.
    gateway_cache=GatewayCache(prefixes=("/api/v1/recommendations/nearby/cells/",), seconds=5),
)
