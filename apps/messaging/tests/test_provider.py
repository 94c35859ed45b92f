"""messaging's contract as other contexts call it (through the registry's client, in-process
here; the same calls go over HTTP in split mode)."""

from __future__ import annotations

import pytest
from pytest_django import DjangoAssertNumQueries

from apps.messaging.models import Conversation, Member
from cleave.contracts.registry import client
from contracts.messaging import (
    MESSAGING,
    ConversationGet,
    MembershipGet,
    MembershipsGet,
    MessagingService,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_groups() -> tuple[int, int]:
    first = Conversation.objects.create(kind="group", created_by=1)
    second = Conversation.objects.create(kind="group", created_by=2)
    Member.objects.bulk_create(
        [Member(conversation=first, user_id=1), Member(conversation=first, user_id=2),
         Member(conversation=second, user_id=2), Member(conversation=second, user_id=3)]
    )  # fmt: skip
    return first.pk, second.pk


def test_membership_and_members_of_one_conversation(two_groups: tuple[int, int]) -> None:
    first, _ = two_groups
    messaging = client(MESSAGING, MessagingService)
    assert messaging.membership_get(MembershipGet(conversation_id=first, user_id=2)).is_member
    assert not messaging.membership_get(MembershipGet(conversation_id=first, user_id=3)).is_member
    members = messaging.conversation_members(ConversationGet(conversation_id=first))
    assert sorted(members.user_ids) == [1, 2]


def test_many_memberships_are_answered_in_one_query(
    two_groups: tuple[int, int], django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    first, second = two_groups
    messaging = client(MESSAGING, MessagingService)
    query = MembershipsGet(conversation_ids=[first, second, 999], user_ids=[1, 3, 4])
    with django_assert_num_queries(1):
        answer = messaging.memberships_get(query)
    found = {c.conversation_id: c.user_ids for c in answer.conversations}
    # Only the asked users, only conversations where one of them is a member.
    assert found == {first: [1], second: [3]}


def test_the_batch_question_is_bounded() -> None:
    with pytest.raises(ValueError, match="at most 1000"):
        MembershipsGet(conversation_ids=list(range(1, 1002)), user_ids=[1])
