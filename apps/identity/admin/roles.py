"""identity's admin over permission groups. Roles are groups whose names tokens carry, so a
group's name never changes here and a group is never deleted here (either would change its
members' roles without signing them out); its permissions change through identity's service,
which makes the change apply at once. Replaces django.contrib.auth's own group admin."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group
from django.http import HttpRequest

from apps.identity.services import roles

if admin.site.is_registered(Group):
    admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin):
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("name",) if obj is not None else ()

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Group, form: Any, change: bool) -> None:
        if not change:
            obj.pk = roles.group_create(name=form.cleaned_data["name"]).pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Not form.save_m2m(): the permissions go through the service.
        permissions = form.cleaned_data.get("permissions") or []
        roles.group_permissions_set(
            group_id=form.instance.pk, permission_ids=[permission.pk for permission in permissions]
        )
