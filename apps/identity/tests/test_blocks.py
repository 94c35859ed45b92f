"""Blocking: identity owns who blocked whom and tells other contexts (issue 16, finding 7)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connections

from apps.identity.services.accounts import user_deactivate
from apps.identity.tests.factories import login, user_create
from cleave.databases import database_for
from cleave.events import captured_events
from contracts.identity import UserBlocked, UserUnblocked

pytestmark = pytest.mark.django_db(transaction=True)


def test_blocking_is_idempotent_and_published_once() -> None:
    ada, bob = user_create(), user_create(display_name="Bob")
    signed = login(ada.email)
    with captured_events() as events:
        first = signed.send("post", f"/api/v1/users/{bob.pk}/block")
        again = signed.send("post", f"/api/v1/users/{bob.pk}/block")
    assert (first.status_code, again.status_code) == (204, 204)
    (blocked,) = events
    assert isinstance(blocked, UserBlocked)
    assert (blocked.blocker_id, blocked.blocked_id) == (ada.pk, bob.pk)
    wire = json.loads(json.dumps(events[0].envelope()))  # as a subscriber receives it
    assert wire["payload"] == {"blocker_id": ada.pk, "blocked_id": bob.pk}
    (listed,) = signed.get("/api/v1/blocks").json()["items"]
    assert (listed["user_id"], listed["display_name"]) == (bob.pk, "Bob")


def test_unblocking_is_idempotent_and_published_once() -> None:
    ada, bob = user_create(), user_create()
    signed = login(ada.email)
    signed.send("post", f"/api/v1/users/{bob.pk}/block")
    with captured_events() as events:
        first = signed.send("delete", f"/api/v1/users/{bob.pk}/block")
        again = signed.send("delete", f"/api/v1/users/{bob.pk}/block")
    assert (first.status_code, again.status_code) == (204, 204)
    assert [type(e) for e in events] == [UserUnblocked]
    assert signed.get("/api/v1/blocks").json()["items"] == []


def test_you_cannot_block_yourself_nor_someone_who_does_not_exist() -> None:
    ada, gone = user_create(), user_create()
    user_deactivate(user_id=gone.pk)
    signed = login(ada.email)
    myself = signed.send("post", f"/api/v1/users/{ada.pk}/block")
    assert (myself.status_code, myself.json()["error"]["code"]) == (422, "cannot_block_self")
    for user_id in (gone.pk, 999_999):
        missing = signed.send("post", f"/api/v1/users/{user_id}/block")
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "user_not_found")
    assert signed.send("delete", "/api/v1/users/999999/block").status_code == 404


def test_the_block_list_is_yours_newest_first_and_paginated_in_one_query() -> None:
    ada, others = user_create(), [user_create() for _ in range(3)]
    signed = login(ada.email)
    for other in others:
        signed.send("post", f"/api/v1/users/{other.pk}/block")
    login(others[0].email).send("post", f"/api/v1/users/{ada.pk}/block")  # not ada's
    queries: list[str] = []

    def count(execute: Any, sql: str, *args: Any) -> Any:
        queries.append(sql)
        return execute(sql, *args)

    with connections[database_for("identity")].execute_wrapper(count):
        page = signed.get("/api/v1/blocks?limit=2").json()
    rest = signed.get(f"/api/v1/blocks?limit=2&cursor={page['next_cursor']}").json()
    assert [b["user_id"] for b in page["items"] + rest["items"]] == [o.pk for o in reversed(others)]
    assert len(queries) == 1  # the page, names included (the token needs no query)
