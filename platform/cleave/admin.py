"""Admin screens of the kernel: the event bus (outbox, inbox, dead letters), the event store
(events, projections), flags and the app-version policy."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar

from django.conf import settings
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from cleave.app_versions.models import AppVersionPolicy, AppVersionPolicyChange
from cleave.app_versions.policy import EDITABLE as POLICY_FIELDS
from cleave.app_versions.policy import policy_delete, policy_save
from cleave.events.models import FailedDelivery, InboxEntry, OutboxEvent
from cleave.events.retries import replay
from cleave.eventstore.admin import register as register_eventstore
from cleave.flags.admin import register as register_flags
from cleave.sagas.admin import register as register_sagas


def _age(moment: datetime) -> str:
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


class AppVersionPolicyAdmin(admin.ModelAdmin):
    """The admin is one more client of the policy's service: saves and deletes are audited and
    enforced everywhere within a second, as through the ops API."""

    list_display = ("platform", "minimum_version", "recommended_version", "store_url", "updated_at")
    fields = ("platform", *POLICY_FIELDS)
    # Store links are https; say so rather than lean on Django 5's "http" default (it changes in 6).
    formfield_overrides: ClassVar[dict[type[models.Field[Any, Any]], dict[str, Any]]] = {
        models.URLField: {"assume_scheme": "https"}
    }

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("platform",) if obj is not None else ()

    def save_model(
        self, request: HttpRequest, obj: AppVersionPolicy, form: Any, change: bool
    ) -> None:
        saved = policy_save(
            platform=obj.platform,
            changes={name: getattr(obj, name) for name in POLICY_FIELDS},
            actor=getattr(request.user, "email", "") or str(request.user),
        )
        obj.pk = AppVersionPolicy.objects.get(platform=saved.platform).pk

    def delete_model(self, request: HttpRequest, obj: AppVersionPolicy) -> None:
        policy_delete(
            platform=obj.platform, actor=getattr(request.user, "email", "") or str(request.user)
        )

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AppVersionPolicy]) -> None:
        for policy in queryset:
            self.delete_model(request, policy)


class AppVersionPolicyChangeAdmin(_ReadOnly):
    list_display = ("changed_at", "platform", "actor")
    list_filter = ("platform",)
    search_fields = ("platform", "actor")
    readonly_fields = ("platform", "actor", "changed_at", "before", "after")


# Flags and the app-version policy are edited where their tables live (the flags home):
# elsewhere they would be ignored.
if settings.CLEAVE_FLAGS_HOME:
    register_flags(admin.site)
    admin.site.register(AppVersionPolicy, AppVersionPolicyAdmin)
    admin.site.register(AppVersionPolicyChange, AppVersionPolicyChangeAdmin)

register_eventstore(admin.site)
register_sagas(admin.site)
