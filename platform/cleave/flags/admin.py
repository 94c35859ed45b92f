"""The flags' admin screens: every change goes through the audited services of
cleave.flags.changes, so the admin records and announces exactly as the ops API does."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from waffle.admin import SwitchAdmin as WaffleSwitchAdmin
from waffle.models import Switch

from cleave.auth.principal import ROLES
from cleave.flags.changes import EDITABLE, announce, flag_delete, flag_save
from cleave.flags.definitions import PLATFORMS
from cleave.flags.models import Flag, FlagChange


def actor_of(request: HttpRequest) -> str:
    """Who changes a flag, as the audit log records it: the staff account's e-mail."""
    return getattr(request.user, "email", "") or str(request.user)


class FlagForm(forms.ModelForm):
    """Targeting lists are JSON in the database: checked here as the ops API checks them."""

    class Meta:
        model = Flag
        fields = ("name", *EDITABLE)
        help_texts = {
            "user_ids": "Always on for these user ids, e.g. [12, 40].",
            "roles": f"Always on for these roles: any of {', '.join(ROLES)}.",
            "platforms": f"Only on these platforms: any of {', '.join(PLATFORMS)}.",
        }

    def clean_user_ids(self) -> list[int]:
        user_ids = self.cleaned_data["user_ids"]
        if not isinstance(user_ids, list) or not all(
            type(user_id) is int and user_id > 0 for user_id in user_ids
        ):
            raise forms.ValidationError("A list of user ids (positive whole numbers).")
        return user_ids

    def clean_roles(self) -> list[str]:
        return self._subset("roles", ROLES)

    def clean_platforms(self) -> list[str]:
        return self._subset("platforms", PLATFORMS)

    def _subset(self, field: str, allowed: tuple[str, ...]) -> list[str]:
        values = self.cleaned_data[field]
        if not isinstance(values, list) or not set(values) <= set(allowed):
            raise forms.ValidationError(f"A list of some of: {', '.join(allowed)}.")
        return values


class FlagAdmin(admin.ModelAdmin):
    form = FlagForm
    list_display = ("name", "everyone", "percent", "client_visible", "note", "modified")
    list_filter = ("everyone", "client_visible")
    search_fields = ("name", "note")
    ordering = ("name",)
    actions = ("enable_for_everyone", "disable_for_everyone")

    def get_readonly_fields(self, request: HttpRequest, obj: Flag | None = None) -> tuple[str, ...]:
        return ("name",) if obj else ()  # the audit log and the code know a flag by its name

    def save_model(self, request: HttpRequest, obj: Flag, form: Any, change: bool) -> None:
        changes = {
            field: form.cleaned_data[field] for field in EDITABLE if field in form.cleaned_data
        }
        obj.pk = flag_save(name=obj.name, changes=changes, actor=actor_of(request)).pk

    def delete_model(self, request: HttpRequest, obj: Flag) -> None:
        flag_delete(name=obj.name, actor=actor_of(request))

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        for name in queryset.values_list("name", flat=True):
            flag_delete(name=name, actor=actor_of(request))

    @admin.action(description="Turn on for everyone", permissions=("change",))
    def enable_for_everyone(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        self._set_everyone(request, queryset, everyone=True)

    @admin.action(description="Turn off for everyone", permissions=("change",))
    def disable_for_everyone(self, request: HttpRequest, queryset: QuerySet[Flag]) -> None:
        self._set_everyone(request, queryset, everyone=False)

    def _set_everyone(
        self, request: HttpRequest, queryset: QuerySet[Flag], *, everyone: bool
    ) -> None:
        names = list(queryset.values_list("name", flat=True))
        for name in names:
            flag_save(name=name, changes={"everyone": everyone}, actor=actor_of(request))
        self.message_user(request, f"{len(names)} flag(s) changed.", messages.SUCCESS)


class AnnouncedSwitchAdmin(WaffleSwitchAdmin):
    """Kill switches (`kill:<flag>`) act at once: a save announces the change."""

    def save_model(self, request: HttpRequest, obj: Switch, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        transaction.on_commit(announce)


class FlagChangeAdmin(admin.ModelAdmin):
    """The audit log: written by the flag services only."""

    list_display = ("changed_at", "flag_name", "actor")
    list_filter = ("flag_name",)
    search_fields = ("flag_name", "actor")
    readonly_fields = ("flag_name", "actor", "changed_at", "before", "after")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


def register(site: admin.AdminSite) -> None:
    """WAFFLE_ENABLE_ADMIN_PAGES is off: waffle would register its own (swapped-out) Flag."""
    site.register(Flag, FlagAdmin)
    site.register(Switch, AnnouncedSwitchAdmin)
    site.register(FlagChange, FlagChangeAdmin)
