"""The answers' bodies are rendered once per list and reused: they must be exactly what the
schemas write, and a list that changes (a new ETag) is rendered afresh."""

from __future__ import annotations

import json
from typing import Any

from apps.recommendations import api
from apps.recommendations.schemas import ListOut, NearbyOut
from apps.recommendations.services.serving import Served


def _items(count: int, title: str = "show") -> list[dict[str, Any]]:
    return [
        {
            "show_id": n,
            "title": f'{title} {n} "é"',
            "starts_at": f"2027-01-0{1 + n % 9}T20:30:00+01:00",
            "city": "Paris",
            "cell": "881fb46461fffff",
            "score": n / 3,
            "reasons": [{"code": "popular", "detail": "12 tickets"}],
        }
        for n in range(count)
    ]


def test_the_bodies_are_what_the_schemas_write() -> None:
    served = Served(_items(30), '"etag-a"', degraded=False, source="memory")
    for variant, degraded in (("b", False), (None, True)):
        expected = ListOut(items=served.value[:20], variant=variant, degraded=degraded)
        body = api._list_body(served, 20, variant=variant, degraded=degraded)
        assert body == expected.model_dump_json()
    expected_nearby = NearbyOut(cell="881fb46461fffff", items=served.value, degraded=False)
    response = api._nearby_body(served, "881fb46461fffff")
    assert response == expected_nearby.model_dump_json()
    assert len(json.loads(api._list_body(served, 5, variant="a", degraded=False))["items"]) == 5


def test_a_new_list_is_rendered_afresh_and_the_memory_stays_bounded(monkeypatch: Any) -> None:
    monkeypatch.setattr(api, "_rendered", {})
    monkeypatch.setattr(api, "RENDERED_MAX", 3)
    first = Served(_items(2, "old"), '"one"', degraded=False, source="memory")
    second = Served(_items(2, "new"), '"two"', degraded=False, source="memory")
    assert "old 0" in api._list_body(first, 20, variant=None, degraded=False)
    assert "new 0" in api._list_body(second, 20, variant=None, degraded=False)
    for n in range(5):
        api._items_json(Served([], f'"{n}"', degraded=False, source="memory"))
    assert len(api._rendered) <= 3
