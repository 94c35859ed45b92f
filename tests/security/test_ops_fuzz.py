"""The ops API fuzzed like the public one: generated bodies, names and windows, as staff and as
nobody. No input may produce a server error; every error answers in the one envelope.

The ops API is DRF without an OpenAPI document, so the inputs come from hypothesis strategies
shaped after its serializers (right fields with wrong values, unknown fields, junk).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.identity.tests.factories import login, user_create

pytestmark = pytest.mark.django_db(transaction=True)

FIELDS = (
    "everyone", "percent", "client_visible", "platforms", "min_app_version", "max_app_version",
    "user_ids", "roles", "environments", "variants", "note",
)  # fmt: skip
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
BODIES = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), JSON, max_size=5)
NAMES = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#%"),
    min_size=1,
    max_size=60,
)
FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


@pytest.fixture
def staff() -> Any:
    user_create(email="ops-fuzz@example.com", roles=("staff",), is_superuser=True)
    return login("ops-fuzz@example.com")


def _assert_clean(response: Any) -> None:
    assert response.status_code < 500, response.content[:500]
    if response.status_code >= 400:
        body = json.loads(response.content)
        assert set(body) == {"error"}, body
        assert {"code", "message", "details"} <= set(body["error"]), body


def test_flag_writes_with_generated_bodies(staff: Any) -> None:
    # The fuzz is only meaningful if this caller may write at all.
    assert staff.send("put", "/api/ops/flags/fuzz-base/", {"everyone": True}).status_code == 200

    @FUZZ
    @given(name=NAMES, body=BODIES, method=st.sampled_from(["put", "patch"]))
    def write(name: str, body: dict[str, Any], method: str) -> None:
        _assert_clean(staff.send(method, f"/api/ops/flags/{name}/", body))
        _assert_clean(staff.send("post", f"/api/ops/flags/{name}/kill/", {"killed": body}))

    write()


def test_reads_and_windows_as_staff_and_as_nobody(staff: Any) -> None:
    anonymous = Client()

    @FUZZ
    @given(name=NAMES, window=st.text(max_size=12))
    def read(name: str, window: str) -> None:
        for path in (f"/api/ops/flags/{name}/", "/api/ops/contexts/"):
            _assert_clean(staff.client.get(path, {"window": window}, **staff.headers()))
            refused = anonymous.get(path, {"window": window})
            assert refused.status_code in {401, 403}, refused.content
            _assert_clean(refused)

    read()
