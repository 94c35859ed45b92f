"""Delta sync of the inbox: items created or read since a token; a too old token is 410."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from apps.notifications.models import InboxItem
from cleave.auth.testing import Signer, token_signer
from cleave.sync import token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def sign() -> Iterator[Signer]:
    with token_signer() as signer:
        yield signer


def _sync(token: str, since: str) -> Any:
    return Client().get(
        f"/api/v1/notifications/sync?since={since}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )


def _item(user_id: int, body: str) -> InboxItem:
    return InboxItem.objects.create(user_id=user_id, kind="message", title="Ada", body=body)


def test_new_and_newly_read_items_are_the_change_and_old_ones_are_not(sign: Signer) -> None:
    token = sign(user_id=7)
    old, read_later = _item(7, "old"), _item(7, "read later")
    _item(8, "someone else's")
    InboxItem.objects.update(changed_at=timezone.now() - timedelta(hours=1))
    since = token_for(timezone.now() - timedelta(minutes=30))
    new = _item(7, "new")

    read = Client().post(
        f"/api/v1/notifications/{read_later.pk}/read", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    body = _sync(token, since).json()

    assert read.status_code == 200
    # In the order they changed: the new item, then the read one.
    assert [(i["id"], i["read"]) for i in body["changed"]] == [
        (new.pk, False),
        (read_later.pk, True),
    ]
    assert old.pk not in [i["id"] for i in body["changed"]]
    assert body["deleted"] == []
    assert body["sync_token"].startswith("s1.")


def test_a_token_older_than_30_days_is_sync_expired(sign: Signer) -> None:
    response = _sync(sign(user_id=7), token_for(timezone.now() - timedelta(days=31)))
    assert response.status_code == 410
    assert response.json()["error"]["code"] == "sync_expired"
