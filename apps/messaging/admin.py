"""messaging's admin: conversations and messages, read-only content, moderation by deletion
through messaging's service (the same tombstone, event and socket frame as the API's delete);
invitations and the copy of identity's blocks, read-only. No row is added, edited or deleted by
hand: that would skip the service's events (issue 18)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.messaging.models import Block, Conversation, Invitation, Member, Message
from apps.messaging.services.messages import message_delete
from cleave.admin_readonly import ViewOnlyAdmin, ViewOnlyInline


class MemberInline(ViewOnlyInline):
    model = Member
    readonly_fields = ("user_id", "role", "last_read_seq", "joined_at")


@admin.register(Conversation)
class ConversationAdmin(ViewOnlyAdmin):
    """Members join and leave through the app (MemberAdded/MemberRemoved); a conversation is
    never deleted here (its messages' seqs and every member's history go with it)."""

    list_display = ("id", "kind", "title", "created_by", "last_seq", "last_message_at")
    list_filter = ("kind",)
    search_fields = ("title", "members__user_id")
    readonly_fields = (
        "kind",
        "title",
        "created_by",
        "direct_key",
        "last_seq",
        "created_at",
        "last_message_at",
    )
    inlines = (MemberInline,)


@admin.register(Message)
class MessageAdmin(ViewOnlyAdmin):
    """Content is read-only; a moderator deletes (tombstones) messages with the action. Never
    removed: their seq must stay."""

    list_display = (
        "id",
        "conversation",
        "seq",
        "sender_id",
        "created_at",
        "edited_at",
        "deleted_at",
    )
    list_filter = (("deleted_at", admin.EmptyFieldListFilter),)
    search_fields = ("text", "sender_id")
    list_select_related = ("conversation",)
    readonly_fields = (
        "conversation",
        "seq",
        "sender_id",
        "client_msg_id",
        "text",
        "created_at",
        "edited_at",
        "deleted_at",
    )
    actions = ("delete_for_moderation",)

    @admin.action(description="Delete selected messages (moderation: text erased, seq kept)")
    def delete_for_moderation(self, request: HttpRequest, queryset: QuerySet[Message]) -> None:
        # Listed first: a changelist searched by text no longer matches a tombstone.
        selected = list(queryset.values_list("pk", "conversation_id"))
        for pk, conversation_id in selected:
            message_delete(conversation_id=conversation_id, message_id=pk, user_id=None)
        self.message_user(request, f"{len(selected)} message(s) deleted.", messages.SUCCESS)


@admin.register(Invitation)
class InvitationAdmin(ViewOnlyAdmin):
    """Invitations are the users' to answer: staff only look."""

    list_display = ("id", "conversation", "user_id", "invited_by", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("user_id", "invited_by", "conversation__title")
    list_select_related = ("conversation",)
    readonly_fields = (
        "conversation",
        "user_id",
        "invited_by",
        "status",
        "created_at",
        "answered_at",
    )


@admin.register(Block)
class BlockAdmin(ViewOnlyAdmin):
    """A copy of identity's blocks, kept by events: change them in identity's admin."""

    list_display = ("id", "blocker_id", "blocked_id", "created_at")
    search_fields = ("blocker_id", "blocked_id")
    readonly_fields = ("blocker_id", "blocked_id", "created_at")
