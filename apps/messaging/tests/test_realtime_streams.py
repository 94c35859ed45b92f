"""The conversation streams a socket joins on connecting, for one user or a storm of them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.messaging.models import Conversation, Member
from cleave.auth.principal import Principal
from cleave.realtime import registry

pytestmark = pytest.mark.django_db


def _principal(user_id: int) -> Principal:
    return Principal(user_id=user_id, session_id=f"s{user_id}", roles=frozenset(), expires_at=0)


def test_many_sockets_get_their_streams_from_one_query_and_as_one_socket_would() -> None:
    first = Conversation.objects.create(kind="group", created_by=1)
    second = Conversation.objects.create(kind="group", created_by=2)
    Member.objects.bulk_create(
        [Member(conversation=first, user_id=1), Member(conversation=first, user_id=2),
         Member(conversation=second, user_id=2)]
    )  # fmt: skip
    principals = [_principal(user_id) for user_id in (1, 2, 3)]
    with CaptureQueriesContext(connection) as queries:
        many = registry.initial_streams_many(principals)
    # One query for messaging's conversations, whatever the number of sockets; other installed
    # contexts' stream families (tracking's shares) may add one each, never one per socket.
    ours = [q for q in queries.captured_queries if "messaging_member" in q["sql"]]
    assert len(ours) == 1
    assert len(queries.captured_queries) <= len(registry.stream_families)
    conversations = {
        user: sorted(s for s in streams if s.startswith("conv:")) for user, streams in many.items()
    }
    assert conversations == {
        1: [f"conv:{first.pk}"],
        2: sorted([f"conv:{first.pk}", f"conv:{second.pk}"]),
        3: [],
    }
    # The batch form answers what the one-socket form answers (other families included).
    assert {p.user_id: sorted(registry.initial_streams(p)) for p in principals} == {
        user: sorted(streams) for user, streams in many.items()
    }
