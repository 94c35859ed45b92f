"""Admin screens over rows that only a context's services write.

Staff look, and change things through actions that call the services; adding, editing or
deleting a row by hand would skip the service's events and invariants (issue 18). Django's
admin then shows the change page read-only and offers neither add nor delete.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class ViewOnlyAdmin(admin.ModelAdmin):
    """No add, no edit, no delete: actions (which call services) are the only writers."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ViewOnlyInline(admin.TabularInline):
    """An inline of rows the services write: shown, never added, edited or removed here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
