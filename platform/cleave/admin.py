"""Admin screens of the kernel: the event bus (outbox, inbox, dead letters) and flags."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from waffle.admin import FlagAdmin as WaffleFlagAdmin
from waffle.admin import SwitchAdmin as WaffleSwitchAdmin
from waffle.models import Switch

from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent
from cleave.events.retries import replay
from cleave.flags.changes import announce, snapshot
from cleave.flags.models import Flag, FlagChange


def _age(moment: timezone.datetime) -> str:
    seconds = int((timezone.now() - moment).total_seconds())
    return str(timedelta(seconds=max(seconds, 0)))


class _ReadOnly(admin.ModelAdmin):
    """Bus rows are written by the bus: staff inspect and act, never edit by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(_ReadOnly):
    list_display = (
        "id",
        "event_type",
        "aggregate_id",
        "context",
        "created_at",
        "age",
        "dispatched_at",
    )
    list_filter = ("context", "event_type", ("dispatched_at", admin.EmptyFieldListFilter))
    search_fields = ("event_id", "aggregate_id", "event_type")
    date_hierarchy = "created_at"
    ordering = ("-id",)

    @admin.display(description="age")
    def age(self, row: OutboxEvent) -> str:
        return _age(row.created_at)


@admin.register(InboxEntry)
class InboxEntryAdmin(_ReadOnly):
    list_display = ("id", "subscriber", "event_type", "event_id", "processed_at")
    list_filter = ("subscriber", "event_type")
    search_fields = ("event_id", "subscriber")
    ordering = ("-id",)


@admin.register(FailedDelivery)
class FailedDeliveryAdmin(_ReadOnly):
    list_display = (
        "id",
        "status",
        "subscriber",
        "event_type",
        "aggregate_id",
        "aggregate_seq",
        "attempts",
        "age",
        "next_attempt_at",
        "last_error",
    )
    list_filter = ("status", "subscriber", "event_type")
    search_fields = ("event_id", "aggregate_id", "subscriber", "last_error")
    ordering = ("-id",)
    actions = ("replay_dead_letters",)

    @admin.display(description="age")
    def age(self, row: FailedDelivery) -> str:
        return _age(row.created_at)

    @admin.action(description="Replay selected dead letters and parked events")
    def replay_dead_letters(self, request: HttpRequest, queryset: QuerySet[FailedDelivery]) -> None:
        count = replay(queryset.db, queryset.values_list("id", flat=True))
        text = f"{count} dead letter(s) or parked event(s) queued for redelivery."
        self.message_user(request, text, messages.SUCCESS)


class AuditedFlagAdmin(WaffleFlagAdmin):
    """Waffle's flag admin, but every save is audited and announced (caches, sockets)."""

    def save_model(self, request: HttpRequest, obj: Flag, form: Any, change: bool) -> None:
        before = snapshot(Flag.objects.filter(pk=obj.pk).first()) if obj.pk else None
        super().save_model(request, obj, form, change)
        actor = getattr(request.user, "email", "") or str(request.user)
        FlagChange.objects.create(
            flag_name=obj.name, actor=actor, before=before, after=snapshot(obj)
        )
        transaction.on_commit(announce)


class AnnouncedSwitchAdmin(WaffleSwitchAdmin):
    """Kill switches (`kill:<flag>`) act at once: a save announces the change."""

    def save_model(self, request: HttpRequest, obj: Switch, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(announce)


class FlagChangeAdmin(_ReadOnly):
    list_display = ("changed_at", "flag_name", "actor")
    list_filter = ("flag_name",)
    search_fields = ("flag_name", "actor")
    readonly_fields = ("flag_name", "actor", "changed_at", "before", "after")


# WAFFLE_ENABLE_ADMIN_PAGES is off: waffle would register its own (swapped-out) Flag model.
# Flags are edited where their tables live (the flags home): elsewhere they would be ignored.
if settings.CLEAVE_FLAGS_HOME:
    admin.site.register(Flag, AuditedFlagAdmin)
    admin.site.register(Switch, AnnouncedSwitchAdmin)
    admin.site.register(FlagChange, FlagChangeAdmin)
