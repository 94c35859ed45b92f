"""Conversations, their members and messages. Users are identity's: kept here by id only."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.timezone import now


class Conversation(models.Model):
    class Kind(models.TextChoices):
        DIRECT = "direct"
        GROUP = "group"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    title = models.CharField(max_length=120, blank=True)
    created_by = models.BigIntegerField()
    # "<low id>:<high id>" for a direct conversation: one per pair, enforced by the database.
    direct_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    last_seq = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=now)
    last_message_at = models.DateTimeField(null=True, blank=True)
    # When anything a member's list shows changed (a message, its deletion, the members):
    # delta sync (GET /api/v1/conversations/sync) reads it.
    changed_at = models.DateTimeField(default=now, db_index=True)

    def __str__(self) -> str:
        return self.title or f"{self.kind} conversation {self.pk}"


class Member(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner"
        MEMBER = "member"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="members")
    user_id = models.BigIntegerField()
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.MEMBER)
    last_read_seq = models.PositiveBigIntegerField(default=0)
    joined_at = models.DateTimeField(default=now)
    # The conversation's last seq when this member joined: history starts after it, over REST
    # and the socket alike (a member added later does not read what was said before).
    joined_seq = models.PositiveBigIntegerField(default=0)
    # When this member's own view changed (joined, read mark): delta sync reads it.
    changed_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["conversation", "user_id"], name="messaging_member_once"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user_id", "conversation"], name="messaging_member_by_user"),
        ]

    def __str__(self) -> str:
        return f"user {self.user_id} in {self.conversation_id}"


class ConversationTombstone(models.Model):
    """A conversation that left a user's list (removed, left, account erased): delta sync tells
    the app to drop it. Kept 30 days (cleave.sync), then purged."""

    user_id = models.BigIntegerField()
    conversation_id = models.BigIntegerField()  # the conversation may be gone: no ForeignKey
    removed_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user_id", "conversation_id"], name="messaging_tombstone_once"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user_id", "removed_at"], name="messaging_tombstone_sync"),
            models.Index(fields=["removed_at"], name="messaging_tombstone_purge"),
        ]

    def __str__(self) -> str:
        return f"conversation {self.conversation_id} gone from user {self.user_id}"


class Message(models.Model):
    MAX_TEXT = 4096

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    seq = models.PositiveBigIntegerField()
    sender_id = models.BigIntegerField()
    client_msg_id = models.CharField(max_length=64)
    text = models.TextField(max_length=MAX_TEXT, blank=True)
    created_at = models.DateTimeField(default=now)
    edited_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="messaging_message_seq"),
            models.UniqueConstraint(
                fields=["conversation", "sender_id", "client_msg_id"], name="messaging_message_once"
            ),
        ]

    def __str__(self) -> str:
        return f"message {self.seq} in {self.conversation_id}"


class Invitation(models.Model):
    """An invitation to a group: the invitee becomes a member only by accepting it. Until then
    they are not a member (no history, no frames, no presence either way)."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        DECLINED = "declined"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="invitations"
    )
    user_id = models.BigIntegerField()
    invited_by = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # One open invitation per person and group; answered ones stay as a record.
            models.UniqueConstraint(
                fields=["conversation", "user_id"],
                condition=models.Q(status="pending"),
                name="messaging_invitation_open_once",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(
                fields=["user_id", "status", "-created_at", "-id"], name="messaging_invitation_list"
            ),
        ]

    def __str__(self) -> str:
        return f"invitation of user {self.user_id} to {self.conversation_id}"


class Block(models.Model):
    """messaging's copy of identity's blocks (from `UserBlocked`/`UserUnblocked`): `blocked_id`
    may not start a direct conversation with, or invite, `blocker_id`."""

    blocker_id = models.BigIntegerField()
    blocked_id = models.BigIntegerField()
    created_at = models.DateTimeField(default=now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["blocker_id", "blocked_id"], name="messaging_block_once"
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["blocked_id"], name="messaging_block_by_blocked"),
        ]

    def __str__(self) -> str:
        return f"user {self.blocker_id} blocks user {self.blocked_id}"
