"""Unverified accounts stay out of conversations while the deployment requires verification.

identity tells messaging whether an address is verified through its contract (`users_get`'s
`email_verified`); the fake identity here plays that part.
"""

from __future__ import annotations

from typing import Any

import pytest

from apps.messaging.models import Conversation, Invitation, Member

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def required(settings: Any) -> None:
    settings.CLEAVE_REQUIRE_EMAIL_VERIFICATION = True


def test_an_unverified_creator_cannot_start_a_conversation(
    required: None, as_user: Any, identity: Any
) -> None:
    ada = as_user(1)
    identity.add(1, "Ada", verified=False)
    as_user(2)
    for body in ({"kind": "direct", "members": [2]}, {"kind": "group", "members": [2]}):
        response = ada.call("post", "", body)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "email_unverified"
        assert response.json()["error"]["details"]["user_ids"] == [1]
    assert not Conversation.objects.exists()


def test_an_unverified_account_cannot_be_added_to_a_conversation(
    required: None, as_user: Any, identity: Any
) -> None:
    ada = as_user(1)
    as_user(2)
    identity.add(3, verified=False)
    direct = ada.call("post", "", {"kind": "direct", "members": [3]})
    assert (direct.status_code, direct.json()["error"]["details"]["user_ids"]) == (403, [3])
    group = ada.call("post", "", {"kind": "group", "members": [2], "title": "g"})
    assert group.status_code == 201
    added = ada.call("post", f"/{group.json()['id']}/members", {"user_id": 3})
    assert (added.status_code, added.json()["error"]["code"]) == (403, "email_unverified")
    assert not Invitation.objects.filter(user_id=3).exists()
    assert sorted(Member.objects.values_list("user_id", flat=True)) == [1]  # 2 is invited

    identity.add(3, verified=True)  # the link was opened
    assert ada.call("post", f"/{group.json()['id']}/members", {"user_id": 3}).status_code == 201


def test_without_the_requirement_unverified_accounts_chat(as_user: Any, identity: Any) -> None:
    ada = as_user(1)
    identity.add(2, verified=False)
    assert ada.call("post", "", {"kind": "direct", "members": [2]}).status_code == 201
