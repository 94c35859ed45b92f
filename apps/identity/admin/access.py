"""identity's admin over what users' sign-ins and choices write: devices, sessions, signing keys
and blocks. Staff look; they revoke sessions and lift blocks through identity's services."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from apps.identity.models import Block, Device, Session, SigningKey
from apps.identity.services import blocks, sessions
from cleave.admin_readonly import ViewOnlyAdmin
from cleave.crypto import mask


@admin.register(Device)
class DeviceAdmin(ViewOnlyAdmin):
    """Devices are the app's to register (notifications learns them from identity's events):
    an edit or a delete here would never reach notifications."""

    list_display = (
        "device_id",
        "user",
        "platform",
        "app_version",
        "has_push_token",
        "last_seen_at",
    )
    list_filter = ("platform",)
    search_fields = ("device_id", "user__email")
    list_select_related = ("user",)
    # The push token is a credential (encrypted at rest): shown masked, set only by the app.
    exclude = ("push_token",)
    readonly_fields = (
        "user",
        "device_id",
        "platform",
        "app_version",
        "push_token_tail",
        "created_at",
        "last_seen_at",
    )

    @admin.display(boolean=True, description="push token")
    def has_push_token(self, device: Device) -> bool:
        return bool(device.push_token)

    @admin.display(description="push token")
    def push_token_tail(self, device: Device) -> str:
        return mask(device.push_token)


_SESSION_FIELDS = (
    "id",
    "user",
    "device",
    "created_at",
    "last_seen_at",
    "revoked_at",
    "revoked_reason",
)


@admin.register(Session)
class SessionAdmin(ViewOnlyAdmin):
    """Sessions end through the revoke action (the service publishes SessionRevoked and fills
    the revocation list); a deleted row would leave its tokens to the cache's word."""

    list_display = _SESSION_FIELDS
    list_filter = (("revoked_at", admin.EmptyFieldListFilter), "revoked_reason", "device__platform")
    search_fields = ("id", "user__email", "device__device_id")
    list_select_related = ("user", "device")
    readonly_fields = _SESSION_FIELDS
    actions = ("revoke_sessions",)

    @admin.action(description="Revoke selected sessions (sign them out now)")
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        revoked = sum(
            sessions.session_revoke(user_id=user_id, session_id=str(pk), reason="revoked_by_staff")
            for pk, user_id in queryset.values_list("pk", "user_id")
        )
        self.message_user(request, f"{revoked} session(s) revoked.", messages.SUCCESS)


@admin.register(SigningKey)
class SigningKeyAdmin(ViewOnlyAdmin):
    """Key rotation status; rotate with `manage.py identity_keys rotate` (a deleted key would
    fail every token it signed at once)."""

    list_display = ("kid", "created_at", "retired_at", "status")
    exclude = ("private_key_pem",)
    readonly_fields = ("kid", "public_jwk", "created_at", "retired_at")

    @admin.display(description="status")
    def status(self, key: SigningKey) -> str:
        if key.retired_at is None:
            return "signing"
        published_until = key.retired_at + timedelta(
            seconds=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60
        )
        if published_until > timezone.now():
            return f"retired, published until {published_until:%H:%M:%S}"
        return "retired, prunable"


@admin.register(Block)
class BlockAdmin(ViewOnlyAdmin):
    """Blocks are the users' own; staff may look, and lift one through the service (so messaging
    hears of it), but never create one on a user's behalf."""

    list_display = ("id", "blocker", "blocked", "created_at")
    search_fields = ("blocker__email", "blocked__email")
    list_select_related = ("blocker", "blocked")
    readonly_fields = ("blocker", "blocked", "created_at")
    actions = ("lift",)

    @admin.action(description="Lift selected blocks")
    def lift(self, request: HttpRequest, queryset: QuerySet[Block]) -> None:
        pairs = list(queryset.values_list("blocker_id", "blocked_id"))
        for blocker_id, blocked_id in pairs:
            blocks.block_delete(blocker_id=blocker_id, blocked_id=blocked_id)
        self.message_user(request, f"{len(pairs)} block(s) lifted.", messages.SUCCESS)
