"""identity's list endpoints take the same queries whatever the page size (no N+1)."""

from __future__ import annotations

import pytest

from apps.identity.services.blocks import block_create
from apps.identity.tests.factories import Signed, login, user_create
from cleave.testing.queries import queries_of

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 8


def _page_queries(signed: Signed, path: str, limit: int) -> list[str]:
    response, queries = queries_of(lambda: signed.get(f"{path}?limit={limit}"))
    assert response.status_code == 200, response.content
    assert len(response.json()["items"]) == limit
    return queries


def _assert_flat(signed: Signed, path: str) -> None:
    signed.get(path)  # warm-up: the first request of a token fills caches (revocation, keys)
    small = _page_queries(signed, path, SMALL)
    large = _page_queries(signed, path, LARGE)
    assert len(large) == len(small), "\n".join(large)


def test_session_list_queries_do_not_grow_with_the_page_size() -> None:
    user_create(email="ada@example.com")
    for device in range(LARGE):
        signed = login("ada@example.com", device_id=f"phone-{device}")
    _assert_flat(signed, "/api/v1/sessions")


def test_block_list_queries_do_not_grow_with_the_page_size() -> None:
    ada = user_create(email="ada@example.com")
    for _ in range(LARGE):
        block_create(blocker_id=ada.pk, blocked_id=user_create().pk)
    _assert_flat(login("ada@example.com"), "/api/v1/blocks")
