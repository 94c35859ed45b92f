"""messaging's list endpoints take the same queries whatever the page size (no N+1)."""

from __future__ import annotations

from typing import Any

import pytest

from cleave.testing.queries import queries_of

pytestmark = pytest.mark.django_db(transaction=True)

SMALL, LARGE = 2, 8


def _page_queries(api: Any, path: str, limit: int) -> list[str]:
    response, queries = queries_of(lambda: api.request("get", f"{path}?limit={limit}"))
    assert response.status_code == 200, response.content
    assert len(response.json()["items"]) == limit
    return queries


def _assert_flat(api: Any, path: str) -> None:
    api.request("get", path)  # warm-up: the first request of a token fills caches
    small = _page_queries(api, path, SMALL)
    large = _page_queries(api, path, LARGE)
    assert len(large) == len(small), "\n".join(large)


def test_conversation_list_queries_do_not_grow_with_the_page_size(as_user: Any) -> None:
    ada = as_user(1, "Ada")
    for other in range(2, LARGE + 2):
        as_user(other)
        created = ada.call("post", "", {"kind": "direct", "members": [other]})
        assert created.status_code == 201, created.content
    _assert_flat(ada, "/api/v1/conversations")


def test_message_list_queries_do_not_grow_with_the_page_size(as_user: Any) -> None:
    ada, bob = as_user(1, "Ada"), as_user(2, "Bob")
    cid = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    for n in range(LARGE):
        sender = ada if n % 2 else bob
        sent = sender.call("post", f"/{cid}/messages", {"text": f"m{n}", "client_msg_id": f"{n}"})
        assert sent.status_code == 201, sent.content
    _assert_flat(ada, f"/api/v1/conversations/{cid}/messages")


def test_invitation_list_queries_do_not_grow_with_the_page_size(as_user: Any) -> None:
    ada = as_user(1, "Ada")
    for owner in range(2, LARGE + 2):
        group = as_user(owner).call("post", "", {"kind": "group", "members": [1], "title": "G"})
        assert group.status_code == 201, group.content
    _assert_flat(ada, "/api/v1/invitations")
