"""notifications' list endpoint takes the same queries whatever the page size (no N+1)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from apps.notifications.models import InboxItem
from cleave.auth.testing import token_signer
from cleave.testing.queries import queries_of

pytestmark = pytest.mark.django_db

SMALL, LARGE = 2, 8


def _page_queries(auth: dict[str, Any], limit: int) -> list[str]:
    path = f"/api/v1/notifications?limit={limit}"
    response, queries = queries_of(lambda: Client().get(path, **auth))
    assert response.status_code == 200, response.content
    assert len(response.json()["items"]) == limit
    return queries


def test_inbox_list_queries_do_not_grow_with_the_page_size() -> None:
    InboxItem.objects.bulk_create(
        InboxItem(user_id=2, kind="message", title="Ada", body=f"hi {n}", data={"seq": n})
        for n in range(LARGE)
    )
    with token_signer() as sign:
        auth: dict[str, Any] = {"HTTP_AUTHORIZATION": f"Bearer {sign(user_id=2)}"}
        Client().get("/api/v1/notifications", **auth)  # warm-up: the token's first request
        small = _page_queries(auth, SMALL)
        large = _page_queries(auth, LARGE)
    assert len(large) == len(small), "\n".join(large)
