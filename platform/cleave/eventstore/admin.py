"""The event store's admin screens: a read-only event browser with decoded payloads, and the
projections (position, lag, parked error, retry/skip actions — audited) with their audit.

The kernel registers them (`register(site)`, from cleave/admin.py), so every service shows the
log of its own database. Who may see them is Django permissions: `EVENT_BROWSER_PERMISSIONS`;
a context that declares an auditor role grants them to its group with `grant_event_browser`
(e.g. from a `post_migrate` receiver), and a projection's retry/skip needs
`cleave.change_projectioncheckpoint`.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import AdminSite
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from cleave.admin_readonly import ViewOnlyAdmin
from cleave.crypto.subject_keys import SubjectForgotten
from cleave.eventstore.models import (
    ProjectionAudit,
    ProjectionCheckpoint,
    StoredEvent,
    category_of,
)
from cleave.eventstore.operations import NotParked, projection_retry, projection_skip
from cleave.eventstore.projections import projection_named
from cleave.eventstore.store import Row, decode_rows
from cleave.eventstore.subscriptions import projection_lag

EVENT_BROWSER_PERMISSIONS = (
    "cleave.view_storedevent",
    "cleave.view_projectioncheckpoint",
    "cleave.view_projectionaudit",
)


def grant_event_browser(role: str, *, using: str = "default") -> None:
    """Give the group named `role` the event browser's and projections' view permissions."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.using(using).get_or_create(name=role)
    codenames = [name.split(".", 1)[1] for name in EVENT_BROWSER_PERMISSIONS]
    group.permissions.add(
        *Permission.objects.using(using).filter(
            content_type__app_label="cleave", codename__in=codenames
        )
    )


def _decoded(row: StoredEvent) -> str:
    alias = row._state.db or "default"
    values: Row = (
        row.id,
        row.stream,
        row.stream_version,
        row.type,
        row.schema_version,
        row.payload,
        row.subject,
        row.metadata,
        row.recorded_at,
    )
    try:
        event = decode_rows([values], alias=alias, skip_forgotten=False)[0]
    except SubjectForgotten:
        return "(forgotten: the subject's data key was shredded)"
    return json.dumps(event.data, indent=2, ensure_ascii=False, default=str)


class StoredEventAdmin(ViewOnlyAdmin):
    list_display = (
        "id",
        "stream",
        "stream_version",
        "type",
        "schema_version",
        "subject",
        "recorded_at",
    )
    list_filter = ("type",)
    search_fields = ("=stream", "=subject", "=type")
    date_hierarchy = "recorded_at"
    ordering = ("-id",)
    show_full_result_count = False  # counting a long log on every page is not worth it
    fields = (
        "id",
        "stream",
        "category",
        "stream_version",
        "type",
        "schema_version",
        "subject",
        "recorded_at",
        "data",
        "metadata",
    )
    readonly_fields = fields

    @admin.display(description="category")
    def category(self, row: StoredEvent) -> str:
        return category_of(row.stream)

    @admin.display(description="data (decrypted, upcast)")
    def data(self, row: StoredEvent) -> str:
        return format_html("<pre>{}</pre>", _decoded(row))


class ProjectionCheckpointAdmin(ViewOnlyAdmin):
    list_display = (
        "name",
        "position",
        "lag",
        "parked_position",
        "parked_at",
        "error",
        "updated_at",
    )
    readonly_fields = (
        "name",
        "position",
        "lag",
        "updated_at",
        "parked_position",
        "parked_at",
        "parked_error_text",
    )
    fields = readonly_fields
    actions = ("retry_parked", "skip_parked")
    ordering = ("name",)

    @admin.display(description="lag")
    def lag(self, row: ProjectionCheckpoint) -> str:
        try:
            lag = projection_lag(projection_named(row.name))
        except LookupError:
            return "(not registered in this service)"
        return f"{lag.events} event(s), {lag.seconds:.1f}s"

    @admin.display(description="last error")
    def error(self, row: ProjectionCheckpoint) -> str:
        lines = row.parked_error.strip().splitlines()
        return lines[-1] if lines else ""

    @admin.display(description="parked error")
    def parked_error_text(self, row: ProjectionCheckpoint) -> str:
        return format_html("<pre>{}</pre>", row.parked_error)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Gates the actions only: the change form stays read-only (fields are all read-only).
        return bool(request.user.has_perm("cleave.change_projectioncheckpoint"))

    def _operate(self, request: HttpRequest, queryset: QuerySet[Any], action: str) -> None:
        operate = projection_retry if action == "retry" else projection_skip
        actor = f"staff:{request.user.get_username() or request.user.pk}"
        for row in queryset:
            try:
                applied = operate(projection_named(row.name), actor=actor)
            except (NotParked, LookupError) as error:
                self.message_user(request, f"{row.name}: {error}", messages.WARNING)
                continue
            self.message_user(
                request, f"{row.name}: {action} done, {applied} event(s) applied", messages.SUCCESS
            )

    @admin.action(description="Retry the parked event (audited)", permissions=["change"])
    def retry_parked(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._operate(request, queryset, "retry")

    @admin.action(description="Skip the parked event (audited)", permissions=["change"])
    def skip_parked(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self._operate(request, queryset, "skip")


class ProjectionAuditAdmin(ViewOnlyAdmin):
    list_display = ("at", "projection", "action", "position", "actor")
    list_filter = ("action", "projection")
    readonly_fields = ("at", "projection", "action", "position", "actor", "error")
    ordering = ("-at",)


def register(site: AdminSite) -> None:
    site.register(StoredEvent, StoredEventAdmin)
    site.register(ProjectionCheckpoint, ProjectionCheckpointAdmin)
    site.register(ProjectionAudit, ProjectionAuditAdmin)
