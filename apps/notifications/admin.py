"""notifications' admin: inbox items, devices as learned, delivery attempts with responses.

All read-only: every row here is written by notifications' services from events (devices from
identity's, inbox items and pushes from messaging's) or by the user (read marks). A row edited
or deleted by hand would disagree with the events it came from (issue 18).
"""

from __future__ import annotations

from django.contrib import admin

from apps.notifications.models import DeliveryAttempt, Device, InboxItem
from cleave.admin_readonly import ViewOnlyAdmin
from cleave.crypto import mask


@admin.register(Device)
class DeviceAdmin(ViewOnlyAdmin):
    list_display = (
        "user_id",
        "device_id",
        "platform",
        "push_token_tail",
        "token_valid",
        "updated_at",
    )
    list_filter = ("platform", "token_valid")
    search_fields = ("user_id", "device_id")
    # The token is a credential (encrypted at rest): staff see its last characters, never edit it.
    exclude = ("push_token",)
    readonly_fields = (
        "user_id",
        "device_id",
        "platform",
        "push_token_tail",
        "token_valid",
        "updated_at",
    )

    @admin.display(description="push token")
    def push_token_tail(self, device: Device) -> str:
        return mask(device.push_token)


@admin.register(InboxItem)
class InboxItemAdmin(ViewOnlyAdmin):
    list_display = ("id", "user_id", "kind", "body", "created_at", "read_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("user_id",)
    readonly_fields = ("user_id", "kind", "title", "body", "data", "created_at", "read_at")


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ViewOnlyAdmin):
    list_display = ("id", "device", "provider", "ok", "status", "created_at")
    list_filter = ("provider", "ok")
    readonly_fields = (
        "device",
        "provider",
        "title",
        "body",
        "ok",
        "status",
        "response",
        "created_at",
    )
