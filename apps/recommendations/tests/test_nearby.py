"""Popular near me: anyone may ask, by point or by cell; the cell and its neighbours count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import h3
import pytest

from apps.recommendations.tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
Get = Callable[..., Any]


def test_nearby_by_point_is_answered_as_its_cell(get: Get) -> None:
    here = factories.show(at=factories.PARIS)
    factories.show(at=factories.LYON)  # far away: not near
    cell = factories.cell_at(factories.PARIS)

    by_point = get("/api/v1/recommendations/nearby?lat=48.8566&lon=2.3522")
    by_cell = get(f"/api/v1/recommendations/nearby/cells/{cell}")

    assert by_point.status_code == by_cell.status_code == 200
    assert by_point.json() == by_cell.json()
    assert by_point["ETag"] == by_cell["ETag"]
    assert by_point["Content-Location"] == f"/api/v1/recommendations/nearby/cells/{cell}"
    assert [item["show_id"] for item in by_cell.json()["items"]] == [here]
    assert by_cell["Cache-Control"] == "public, max-age=5"  # the gateway may keep it briefly


def test_a_neighbouring_cells_show_counts_after_this_cells_with_reasons(get: Get) -> None:
    cell = factories.cell_at(factories.PARIS)
    neighbour = sorted(set(h3.grid_disk(cell, 1)) - {cell})[0]
    lat, lon = h3.cell_to_latlng(neighbour)
    next_door = factories.show(at=(lat, lon))
    here = factories.show(at=factories.PARIS)
    factories.area_activity(cell=neighbour, visitors=40)

    items = get(f"/api/v1/recommendations/nearby/cells/{cell}", user_id=5).json()["items"]

    assert [item["show_id"] for item in items] == [next_door, here]
    codes = {item["show_id"]: [r["code"] for r in item["reasons"]] for item in items}
    assert codes == {next_door: ["next_area", "busy_area"], here: ["in_this_area"]}


def test_a_cell_that_is_not_resolution_8_is_refused(get: Get) -> None:
    coarse = h3.latlng_to_cell(*factories.PARIS, 5)
    for cell in (coarse, "not-a-cell"):
        answer = get(f"/api/v1/recommendations/nearby/cells/{cell}")
        assert answer.status_code == 422, answer.content
        assert answer.json()["error"]["code"] == "recommendations_invalid_cell"


def test_coordinates_out_of_range_are_refused(get: Get) -> None:
    answer = get("/api/v1/recommendations/nearby?lat=91&lon=0")
    assert answer.status_code == 422
