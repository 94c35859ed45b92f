"""The sagas' admin: every saga with its timeline, and retry / compensate actions for staff
with the `cleave.change_sagarun` permission (each one audited in the saga's timeline under the
staff account). Any context's admin can show a saga next to its own rows: `saga_timeline(id)`
renders the timeline as a read-only field, `saga_admin_link(id)` links to the saga's page."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from cleave.admin_readonly import ViewOnlyAdmin
from cleave.errors import CleaveError
from cleave.sagas.models import SagaLogEntry, SagaRun, SagaStep
from cleave.sagas.services import saga_compensate, saga_retry


def _actor(request: HttpRequest) -> str:
    return f"staff:{getattr(request.user, 'email', '') or request.user}"


def saga_admin_link(saga_id: UUID | str) -> SafeString:
    url = reverse("admin:cleave_sagarun_change", args=[str(saga_id)])
    return format_html('<a href="{}">saga {}</a>', url, saga_id)


def saga_timeline(saga_id: UUID | str, *, using: str = "default") -> SafeString:
    """The saga's steps (tries, key, result, error) and its timeline, as HTML tables."""
    run_id = UUID(str(saga_id))
    steps = SagaStep.objects.using(using).filter(run_id=run_id).order_by("id")
    entries = SagaLogEntry.objects.using(using).filter(run_id=run_id).order_by("id")
    step_rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td>"
        "<td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (s.name, s.phase, s.status, s.attempts, s.idempotency_key, s.result,
             s.error.splitlines()[-1] if s.error else "", s.finished_at or "")
            for s in steps
        ),
    )  # fmt: skip
    log_rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (e.at.strftime("%Y-%m-%d %H:%M:%S.%f"), e.kind, e.step, e.attempt or "", e.actor,
             e.detail[:300])
            for e in entries
        ),
    )  # fmt: skip
    return format_html(
        "<table><tr><th>step</th><th>phase</th><th>status</th><th>tries</th>"
        "<th>idempotency key</th><th>result</th><th>last error</th><th>finished</th></tr>{}"
        "</table><table><tr><th>at</th><th>what</th><th>step</th><th>try</th><th>by</th>"
        "<th>detail</th></tr>{}</table>",
        step_rows,
        log_rows,
    )


class SagaRunAdmin(ViewOnlyAdmin):
    list_display = ("id", "saga", "state", "step", "reason", "created_at", "finished_at")
    list_filter = ("state", "saga", "reason")
    search_fields = ("id", "saga", "step")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)
    fields = ("id", "saga", "state", "step", "reason", "error", "input", "results",
              "deadline_at", "due_at", "created_at", "finished_at", "timeline")  # fmt: skip
    readonly_fields = fields
    actions = ("retry", "compensate")

    def has_operate_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("cleave.change_sagarun"))

    @admin.display(description="timeline")
    def timeline(self, run: SagaRun) -> SafeString:
        return saga_timeline(run.id, using=run._state.db or "default")

    @admin.action(description="Retry selected sagas now (audited)", permissions=["operate"])
    def retry(self, request: HttpRequest, queryset: QuerySet[SagaRun]) -> None:
        self._each(request, queryset, lambda run: bool(saga_retry(run.id, actor=_actor(request))))

    @admin.action(description="Compensate selected sagas (audited)", permissions=["operate"])
    def compensate(self, request: HttpRequest, queryset: QuerySet[SagaRun]) -> None:
        self._each(request, queryset, lambda run: saga_compensate(run.id, actor=_actor(request)))

    def _each(
        self, request: HttpRequest, queryset: QuerySet[SagaRun], act: Callable[[SagaRun], bool]
    ) -> None:
        done, refused = 0, []
        for run in queryset:
            try:
                acted = act(run)
            except CleaveError as error:
                refused.append(str(error))
                continue
            if not acted:
                refused.append(f"Saga {run.id} is {run.state}: nothing to do.")
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} saga(s) handed to a runner.", messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.WARNING)


def register(site: admin.AdminSite) -> None:
    """The sagas' screens on `site` (the kernel's admin registers them, as the event store's)."""
    site.register(SagaRun, SagaRunAdmin)
