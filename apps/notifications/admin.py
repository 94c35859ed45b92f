"""notifications' admin: inbox items, devices as learned, delivery attempts with responses."""

from __future__ import annotations

from django.contrib import admin

from apps.notifications.models import DeliveryAttempt, Device, InboxItem
from cleave.crypto import mask


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
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
    readonly_fields = ("push_token_tail",)

    @admin.display(description="push token")
    def push_token_tail(self, device: Device) -> str:
        return mask(device.push_token)


@admin.register(InboxItem)
class InboxItemAdmin(admin.ModelAdmin):
    list_display = ("id", "user_id", "kind", "body", "created_at", "read_at")
    list_filter = ("kind", ("read_at", admin.EmptyFieldListFilter))
    search_fields = ("user_id",)


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(admin.ModelAdmin):
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
