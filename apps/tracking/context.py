"""tracking declares itself: consent, location and activity streams of phones, event-sourced
trips and their read models (docs/tracking.md)."""

from collections.abc import Mapping

from cleave.contexts import Context, Realtime


def _settings(env: Mapping[str, str]) -> dict[str, float]:
    def number(name: str, default: str) -> float:
        return float(env.get(name, default))

    return {
        # A device clock off by more than this is not trusted further: the correction is
        # clamped to it (a phone on a wrong time zone is off by hours, not days).
        "CLEAVE_TRACKING_MAX_SKEW_SECONDS": number("CLEAVE_TRACKING_MAX_SKEW_SECONDS", "43200"),
        # Points later than the server's clock by more than this (after the correction) are
        # rejected: GPS fixes do not come from the future.
        "CLEAVE_TRACKING_FUTURE_TOLERANCE_SECONDS": number(
            "CLEAVE_TRACKING_FUTURE_TOLERANCE_SECONDS", "120"
        ),
        # Points older than this are rejected: phones upload late, but not a month late.
        "CLEAVE_TRACKING_MAX_AGE_SECONDS": number("CLEAVE_TRACKING_MAX_AGE_SECONDS", "604800"),
        # A trip with no point for this long is paused, and ended after the second one.
        "CLEAVE_TRACKING_PAUSE_SECONDS": number("CLEAVE_TRACKING_PAUSE_SECONDS", "300"),
        "CLEAVE_TRACKING_TRIP_END_SECONDS": number("CLEAVE_TRACKING_TRIP_END_SECONDS", "1800"),
        # Dwell inside a geofence before it counts as a visit (GeofenceEntered).
        "CLEAVE_TRACKING_VISIT_DWELL_SECONDS": number("CLEAVE_TRACKING_VISIT_DWELL_SECONDS", "60"),
        # AreaActivity is published for an hour's cell only from this many distinct visitors:
        # outbox rows are kept for days unencrypted, so a cell with one visitor is not sent.
        "CLEAVE_TRACKING_AREA_MIN_VISITORS": number("CLEAVE_TRACKING_AREA_MIN_VISITORS", "5"),
    }


CONTEXT = Context(
    label="tracking",
    app="apps.tracking",
    url_prefixes=("/api/v1/tracking",),
    # Live sharing: `location:<user id>` streams, readable through an active share; uploads
    # over the socket as `tracking.batch` frames. A realtime process not hosting tracking asks
    # tracking's service about both (docs/tracking.md, "Split mode").
    realtime=Realtime(stream_families=("location",), frame_types=("tracking.batch",)),
    # Staff with this role read the event store's browser (decoded payloads); nobody else.
    roles=("auditor",),
    settings=_settings,
)
