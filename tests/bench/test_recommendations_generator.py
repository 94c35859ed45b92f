"""The surge generator reads an answer's `degraded` flag off its last bytes
(bench/recommendations/phases.py): that must agree with the whole answer, as the API renders it,
degraded or not, and anything else must still be parsed."""

from __future__ import annotations

import json

import pytest

from apps.recommendations.api import _nearby_body
from apps.recommendations.services.serving import Served
from bench.recommendations.phases import degraded

ITEMS = [
    {
        "show_id": 7,
        "title": 'a "quoted" title, degraded":false}',
        "starts_at": "2026-12-24T20:00:00+00:00",
        "city": "Paris",
        "cell": "881fb46449fffff",
        "score": 1.5,
        "reasons": [{"code": "in_this_area", "detail": "881fb46449fffff"}],
    }
]


@pytest.mark.parametrize("flag", [False, True])
def test_the_flag_read_off_the_end_is_the_rendered_answers(flag: bool) -> None:
    body = _nearby_body(Served(ITEMS, '"e"', degraded=flag, source="memory"), "881fb46449fffff")
    raw = body.encode()
    assert json.loads(raw)["degraded"] is flag
    assert degraded(raw) is flag
    assert degraded(raw, parse=True) is flag


def test_an_answer_that_ends_otherwise_is_parsed() -> None:
    assert degraded(b'{"degraded": true, "items": []}') is True
    with pytest.raises(json.JSONDecodeError):
        degraded(b"<html>not json</html>")
    # A picked answer is parsed whole, whatever its end says.
    with pytest.raises(json.JSONDecodeError):
        degraded(b'garbage,"degraded":false}', parse=True)
