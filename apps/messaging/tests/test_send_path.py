"""The send path's guarantees after its round trips were cut (services/message_append.py): the
statements it costs, membership and blocks checked under the lock, seqs without gaps under
concurrency, one message per client_msg_id, and the event and the frame of every send."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction

from apps.messaging.models import Conversation, Message
from apps.messaging.services.message_append import message_append
from apps.messaging.services.messages import message_send
from apps.messaging.subscribers import on_user_blocked
from cleave.events import captured_events
from cleave.events.models import OutboxEvent
from cleave.realtime.hub import store
from cleave.testing.queries import queries_of
from contracts.identity import UserBlocked
from contracts.messaging import MessageSent

pytestmark = pytest.mark.django_db(transaction=True)

# Statements of one send through the API, the token's caches warm: BEGIN, the seq, the message
# (PostgreSQL: with its recipients), the event (PostgreSQL: its stream number and outbox row in
# one statement), COMMIT. The send limit is counted first (Redis) and given back to a retry, so
# a new message needs no look-up for "sent before?". SQLite has no data-changing CTEs (and no
# round trips to save): recipients, number and row are statements of their own there.
SEND_STATEMENTS = {"postgresql": 5, "sqlite": 7}
# Of those, from taking the conversation's lock to COMMIT: every other send to the same
# conversation waits for these.
UNDER_LOCK = {"postgresql": 4, "sqlite": 6}
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="concurrent writers need a server database"
)


@pytest.fixture
def chat(as_user: Any) -> tuple[Any, Any, int]:
    ada, bob = as_user(1, "Ada"), as_user(2, "Bob")
    cid = ada.call("post", "", {"kind": "direct", "members": [2]}).json()["id"]
    return ada, bob, cid


def _send(api: Any, cid: int, client_msg_id: str | None = None) -> Any:
    body = {"text": "hi", "client_msg_id": client_msg_id or secrets.token_hex(6)}
    return api.call("post", f"/{cid}/messages", body)


def test_a_send_costs_a_fixed_number_of_statements_and_holds_the_lock_for_few(chat: Any) -> None:
    ada, _, cid = chat
    assert _send(ada, cid).status_code == 201  # warm: the token's first request fills caches
    response, queries = queries_of(lambda: _send(ada, cid))
    assert response.status_code == 201
    # Up to the send's COMMIT: embedded mode then delivers the event in the same request.
    queries = queries[: queries.index("COMMIT") + 1]
    listing = "\n".join(queries)
    assert len(queries) == SEND_STATEMENTS[connection.vendor], listing
    locked = next(i for i, sql in enumerate(queries) if sql.startswith("UPDATE messaging_conv"))
    assert len(queries) - locked == UNDER_LOCK[connection.vendor], listing
    assert queries[-1] == "COMMIT", listing


def test_a_removed_member_cannot_send_and_the_refusal_takes_no_seq(as_user: Any) -> None:
    owner, bob = as_user(1), as_user(2)
    gid = owner.call("post", "", {"kind": "group", "members": [2], "title": "T"}).json()["id"]
    bob.accept_invitations()
    assert _send(bob, gid).json()["seq"] == 1
    assert owner.call("delete", f"/{gid}/members/2").status_code == 204
    with captured_events() as events:
        refused = _send(bob, gid)
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "conversation_not_found")
    assert not [e for e in events if isinstance(e, MessageSent)]
    assert _send(owner, gid).json()["seq"] == 2  # the refused send's seq was rolled back
    assert Conversation.objects.get(pk=gid).last_seq == 2


def test_a_block_refuses_the_send_and_takes_no_seq(chat: Any) -> None:
    ada, bob, cid = chat
    assert _send(ada, cid).json()["seq"] == 1
    on_user_blocked(UserBlocked(aggregate_id="2", blocker_id=2, blocked_id=1))
    refused = _send(ada, cid)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "user_unavailable")
    assert Conversation.objects.get(pk=cid).last_seq == 1
    assert Message.objects.filter(conversation_id=cid).count() == 1


def test_every_send_publishes_its_event_and_pushes_its_frame(as_user: Any) -> None:
    owner, bob, cy = as_user(1), as_user(2), as_user(3)
    gid = owner.call("post", "", {"kind": "group", "members": [2, 3], "title": "T"}).json()["id"]
    bob.accept_invitations()
    cy.accept_invitations()
    client_msg_id = secrets.token_hex(6)
    with captured_events() as events:
        sent = _send(bob, gid, client_msg_id).json()
    [event] = [e for e in events if isinstance(e, MessageSent)]
    assert (event.message_id, event.seq, event.sender_id) == (sent["id"], sent["seq"], 2)
    assert event.recipient_ids == [1, 3]
    row = OutboxEvent.objects.get(event_id=event.event_id)
    assert row.envelope["payload"]["message_id"] == sent["id"]
    frames = [json.loads(f) for _, f in store().since(f"conv:{gid}", 0, None, cap=1000).entries]
    [frame] = [f for f in frames if f["data"].get("client_msg_id") == client_msg_id]
    assert frame["event"] == "message.sent"
    assert {k: frame["data"][k] for k in ("id", "seq", "sender_id", "text")} == {
        k: sent[k] for k in ("id", "seq", "sender_id", "text")
    }


def test_a_client_msg_id_already_used_writes_nothing_and_takes_no_seq(chat: Any) -> None:
    ada, _, cid = chat
    first = _send(ada, cid, "once").json()
    with transaction.atomic():
        sid = transaction.savepoint()
        again = message_append(
            conversation_id=cid, sender_id=1, text="x", client_msg_id="once", now=first_time()
        )
        assert again is None  # the caller rolls back the seq it took
        transaction.savepoint_rollback(sid)
    message, created = message_send(
        conversation_id=cid, sender_id=1, text="hi", client_msg_id="once"
    )
    assert (created, message.pk, message.seq) == (False, first["id"], 1)
    assert Conversation.objects.get(pk=cid).last_seq == 1


def first_time() -> Any:
    from django.utils import timezone

    return timezone.now()


def _in_threads(count: int, work: Any) -> list[Any]:
    results: list[Any] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = work(index)
        except BaseException as error:  # reported by the test, with the others
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@postgres_only
def test_concurrent_senders_get_every_seq_once_in_order(as_user: Any) -> None:
    owner = as_user(1)
    others = [as_user(n) for n in range(2, 9)]
    gid = owner.call("post", "", {"kind": "group", "members": list(range(2, 9)), "title": "T"})
    gid = gid.json()["id"]
    for other in others:
        other.accept_invitations()
    senders, rounds = [owner, *others], 5

    def send_all(index: int) -> list[int]:
        return [_send(senders[index], gid).json()["seq"] for _ in range(rounds)]

    with captured_events() as events:
        seqs = _in_threads(len(senders), send_all)
    expected = list(range(1, len(senders) * rounds + 1))
    assert sorted(s for mine in seqs for s in mine) == expected
    assert all(mine == sorted(mine) for mine in seqs)  # each sender's messages in its order
    assert sorted(e.seq for e in events if isinstance(e, MessageSent)) == expected
    stream = OutboxEvent.objects.filter(event_type="messaging.message_sent", aggregate_id=str(gid))
    by_stream = sorted(seq or 0 for seq in stream.values_list("aggregate_seq", flat=True))
    assert by_stream == expected  # the event stream's numbers have no gaps either


@postgres_only
def test_concurrent_retries_of_one_message_write_it_once(chat: Any) -> None:
    ada, _, cid = chat
    replies = _in_threads(6, lambda _: _send(ada, cid, "same"))
    assert sorted(r.status_code for r in replies) == [200] * 5 + [201]
    assert {r.json()["id"] for r in replies} == {Message.objects.get(conversation_id=cid).pk}
    assert Conversation.objects.get(pk=cid).last_seq == 1
