"""The visits projection's bounding box only ever skips points the haversine would reject:
a point is inside a fence exactly when `geo.inside_circle` says so, at every latitude, near the
poles and across the antimeridian."""

from __future__ import annotations

import math
import random

import pytest

from apps.tracking.domain import geo
from apps.tracking.models import Geofence
from apps.tracking.projections.visits import _Fence

CENTRES = [(48.8566, 2.3522), (0.0, 0.0), (-33.9, 151.2), (64.1, -21.9), (84.9, 10.0),
           (89.99, 0.0), (-89.5, 45.0), (10.0, 179.999), (-20.0, -179.99)]  # fmt: skip


@pytest.mark.parametrize(("lat", "lon"), CENTRES)
@pytest.mark.parametrize("radius_m", [5.0, 150.0, 5_000.0])
def test_the_box_never_rejects_a_point_inside_the_circle(
    lat: float, lon: float, radius_m: float
) -> None:
    fence = _Fence(Geofence(pk=1, name="f", lat=lat, lon=lon, radius_m=radius_m))
    rng = random.Random(f"{lat},{lon},{radius_m}")  # noqa: S311 - test points, the same each run
    spread = math.degrees(radius_m / geo.EARTH_RADIUS_M) * 3
    checked = inside = 0
    for _ in range(3_000):
        point_lat = max(-90.0, min(90.0, lat + rng.uniform(-spread, spread)))
        point_lon = lon + rng.uniform(-spread, spread) / max(math.cos(math.radians(lat)), 0.01)
        point_lon = (point_lon + 180.0) % 360.0 - 180.0
        expected = geo.inside_circle((point_lat, point_lon), (lat, lon), radius_m)
        assert fence.contains(point_lat, point_lon) is expected, (point_lat, point_lon)
        checked, inside = checked + 1, inside + expected
    assert 0 < inside < checked  # both sides of the edge were tried
