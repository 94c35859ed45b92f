"""Distances, path simplification, geofence tests and area cells (H3) for the read models."""

from __future__ import annotations

import math
from collections.abc import Sequence

import h3

EARTH_RADIUS_M = 6_371_008.8  # the mean radius (IUGG): haversine's usual sphere
AREA_RESOLUTION = 8  # H3 resolution 8: cells of ~0.74 km², a few blocks of a city

LatLon = tuple[float, float]


def haversine_m(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in metres between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def path_length_m(path: Sequence[LatLon]) -> float:
    return sum(haversine_m(path[i], path[i + 1]) for i in range(len(path) - 1))


def _offset_m(origin: LatLon, point: LatLon) -> tuple[float, float]:
    """`point` in metres east and north of `origin` (equirectangular: fine over a trip's
    segment, which is what Douglas-Peucker compares)."""
    x = math.radians(point[1] - origin[1]) * math.cos(math.radians(origin[0])) * EARTH_RADIUS_M
    y = math.radians(point[0] - origin[0]) * EARTH_RADIUS_M
    return x, y


def _distance_to_segment_m(point: LatLon, start: LatLon, end: LatLon) -> float:
    px, py = _offset_m(start, point)
    ex, ey = _offset_m(start, end)
    length2 = ex * ex + ey * ey
    if length2 == 0.0:
        return math.hypot(px, py)
    along = max(0.0, min(1.0, (px * ex + py * ey) / length2))
    return math.hypot(px - along * ex, py - along * ey)


def simplify(path: Sequence[LatLon], tolerance_m: float) -> list[LatLon]:
    """Douglas-Peucker: the fewest points of `path` within `tolerance_m` of it, ends kept.
    Iterative (a long trip would overflow recursion)."""
    if len(path) < 3:
        return list(path)
    keep = [False] * len(path)
    keep[0] = keep[-1] = True
    spans = [(0, len(path) - 1)]
    while spans:
        first, last = spans.pop()
        farthest, distance = first, 0.0
        for i in range(first + 1, last):
            d = _distance_to_segment_m(path[i], path[first], path[last])
            if d > distance:
                farthest, distance = i, d
        if distance > tolerance_m:
            keep[farthest] = True
            spans += [(first, farthest), (farthest, last)]
    return [point for point, kept in zip(path, keep, strict=True) if kept]


def inside_circle(point: LatLon, center: LatLon, radius_m: float) -> bool:
    return haversine_m(point, center) <= radius_m


def area_cell(point: LatLon) -> str:
    """The resolution-8 H3 cell holding `point`."""
    return str(h3.latlng_to_cell(point[0], point[1], AREA_RESOLUTION))


def is_area_cell(cell: str) -> bool:
    """A valid H3 cell at the areas' resolution (clients send them; never trust one)."""
    try:
        return bool(h3.is_valid_cell(cell)) and h3.get_resolution(cell) == AREA_RESOLUTION
    except (TypeError, ValueError):
        return False


def neighbourhood(cell: str) -> list[str]:
    """The cell and its six neighbours (a pentagon has five), sorted."""
    return sorted(str(c) for c in h3.grid_disk(cell, 1))
