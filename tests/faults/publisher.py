"""Publish real events from a process with Cleave's real settings, as a publishing service does.

    python -m tests.faults.publisher messages --count 10000 --conversations 20
    python -m tests.faults.publisher user-updates --user 7 --timezones Europe/Paris,<too long>,UTC
    python -m tests.faults.publisher push-tokens --users 3000001,3000002
    python -m tests.faults.publisher messages-then-poison --users 3000001,3000002 --poison <zone>

Events go through `cleave.events.publish_many` inside a transaction (the outbox), then the
after-commit relay hands them to the broker; anything it could not hand off stays in the outbox
for the sweeper. Prints one JSON line of what it did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cleave.settings")
    import django

    django.setup()


def _flush() -> str:
    """Hand off what the background relay has not yet; "failed: …" when the broker refuses."""
    from cleave.events.relay import relay_all

    try:
        relay_all("default")
    except Exception as exc:  # the broker is down: the sweeper will hand the rows off later
        return f"failed: {type(exc).__name__}"
    return "ok"


def messages(
    count: int, conversations: int, first_seq: int, per_transaction: int, first_conversation: int
) -> dict:
    """`count` MessageSent events spread over `conversations` aggregates, each conversation's
    `seq` rising from `first_seq`: notifications turns each into one inbox item."""
    from django.db import transaction

    from cleave.events import publish_many
    from contracts.messaging import MessageSent

    started = time.monotonic()
    events = []
    for n in range(count):
        conversation = first_conversation + n % conversations
        seq = first_seq + n // conversations
        events.append(
            MessageSent(
                aggregate_id=str(conversation),
                conversation_id=conversation,
                message_id=conversation * 1_000_000 + seq,
                seq=seq,
                sender_id=1_000_000,  # no such account: notifications titles it "New message"
                recipient_ids=[2_000_000 + conversation],
                preview=f"m{seq}",
            )
        )
    for start in range(0, count, per_transaction):
        with transaction.atomic():
            publish_many(events[start : start + per_transaction])
    published = time.monotonic() - started
    return {"published": count, "seconds": round(published, 2), "flush": _flush()}


def user_updates(user_id: int, timezones: list[str]) -> dict:
    """One UserUpdated per time zone, in order, for one user (one aggregate)."""
    from django.db import transaction

    from cleave.events import publish
    from contracts.identity import UserUpdated

    for zone in timezones:
        with transaction.atomic():
            publish(
                UserUpdated(
                    aggregate_id=str(user_id),
                    user_id=user_id,
                    display_name=f"user {user_id}",
                    locale="en",
                    timezone=zone,
                )
            )
    return {"published": len(timezones), "flush": _flush()}


def push_tokens(user_ids: list[int]) -> dict:
    """A phone with a push token per user (android and iOS in turn, so FCM and APNs both serve),
    as identity announces it: notifications learns the devices from these events."""
    from django.db import transaction

    from cleave.events import publish_many
    from contracts.identity import PushTokenChanged

    with transaction.atomic():
        publish_many(
            [
                PushTokenChanged(
                    aggregate_id=str(user_id),
                    user_id=user_id,
                    device_id="phone",
                    platform="android" if n % 2 == 0 else "ios",
                    push_token=f"push-{user_id}",
                )
                for n, user_id in enumerate(user_ids)
            ]
        )
    return {"published": len(user_ids), "flush": _flush()}


def messages_then_poison(user_ids: list[int], poison_timezone: str) -> dict:
    """In one transaction, so the relay hands them off as one batch: a message to each user (in
    a conversation of its own: each is one push), then an event whose subscriber fails. The
    batch is applied optimistically, fails on the last event, is rolled back and re-applied
    event by event."""
    from django.db import transaction

    from cleave.events import publish_many
    from contracts.identity import UserUpdated
    from contracts.messaging import MessageSent

    events: list = [
        MessageSent(
            aggregate_id=str(user_id),
            conversation_id=user_id,
            message_id=user_id,
            seq=1,
            sender_id=1_000_000,  # no such account: notifications titles it "New message"
            recipient_ids=[user_id],
            preview=f"to {user_id}",
        )
        for user_id in user_ids
    ]
    poisoned = max(user_ids) + 1
    events.append(
        UserUpdated(
            aggregate_id=str(poisoned),
            user_id=poisoned,
            display_name="poisoned",
            locale="en",
            timezone=poison_timezone,
        )
    )
    with transaction.atomic():
        publish_many(events)
    return {"published": len(events), "flush": _flush()}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.faults.publisher")
    commands = parser.add_subparsers(dest="command", required=True)
    burst = commands.add_parser("messages")
    burst.add_argument("--count", type=int, required=True)
    burst.add_argument("--conversations", type=int, default=20)
    burst.add_argument("--first-seq", type=int, default=1)
    burst.add_argument("--per-transaction", type=int, default=100)
    burst.add_argument("--first-conversation", type=int, default=1)
    updates = commands.add_parser("user-updates")
    updates.add_argument("--user", type=int, required=True)
    updates.add_argument("--timezones", required=True, help="comma-separated, in order")
    tokens = commands.add_parser("push-tokens")
    tokens.add_argument("--users", required=True, help="comma-separated user ids")
    poisoned = commands.add_parser("messages-then-poison")
    poisoned.add_argument("--users", required=True, help="comma-separated user ids")
    poisoned.add_argument("--poison", required=True, help="a time zone the subscriber refuses")
    args = parser.parse_args(argv)
    _setup()
    if args.command == "push-tokens":
        result = push_tokens([int(u) for u in args.users.split(",")])
    elif args.command == "messages-then-poison":
        result = messages_then_poison([int(u) for u in args.users.split(",")], args.poison)
    elif args.command == "messages":
        result = messages(
            args.count,
            args.conversations,
            args.first_seq,
            args.per_transaction,
            args.first_conversation,
        )
    else:
        result = user_updates(args.user, args.timezones.split(","))
    print(json.dumps(result))  # noqa: T201 - the caller reads this line


if __name__ == "__main__":
    main(sys.argv[1:])
