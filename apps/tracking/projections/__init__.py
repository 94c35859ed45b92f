"""tracking's read side: projections of the device streams (cleave.eventstore.Projection),
each owning its tables and rebuilt from the log (`manage.py projections rebuild NAME`)."""

from __future__ import annotations

from cleave.eventstore import register_projection


def register() -> None:
    from apps.tracking.projections.areas import AreaProjection
    from apps.tracking.projections.locations import LastLocationProjection
    from apps.tracking.projections.trips import TripProjection
    from apps.tracking.projections.visits import VisitProjection

    for projection in (
        LastLocationProjection(),
        TripProjection(),
        VisitProjection(),
        AreaProjection(),
    ):
        register_projection(projection)
