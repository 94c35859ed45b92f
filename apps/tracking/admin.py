"""tracking's admin: geofences (staff's configuration) and consent, which changes through the
service (audited like the API's changes); everything else is shown read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.tracking.models import Consent, ConsentChange, Geofence, Trip, Visit
from apps.tracking.services.consent import consent_set
from cleave.admin_readonly import ViewOnlyAdmin


@admin.register(Geofence)
class GeofenceAdmin(admin.ModelAdmin):
    """Circles (center and radius in metres); visits are computed as points arrive."""

    list_display = ("id", "name", "lat", "lon", "radius_m", "active")
    list_filter = ("active",)
    search_fields = ("name",)


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("user_id", "granted", "changed_at")
    list_filter = ("granted",)
    search_fields = ("user_id",)
    fields = ("user_id", "granted")
    actions = ("revoke",)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("user_id",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: Consent, form: Any, change: bool) -> None:
        """Through the service: audited, and a revocation ends trips and shares at once."""
        consent_set(
            user_id=obj.user_id,
            granted=obj.granted,
            changed_by=request.user.pk or 0,
            source="admin",
        )

    @admin.action(description="Revoke consent (ends trips and live shares)")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for user_id in queryset.values_list("user_id", flat=True):
            consent_set(
                user_id=user_id, granted=False, changed_by=request.user.pk or 0, source="admin"
            )


@admin.register(ConsentChange)
class ConsentChangeAdmin(ViewOnlyAdmin):
    list_display = ("user_id", "granted", "changed_at", "changed_by", "source", "request_id")
    list_filter = ("granted", "source")
    search_fields = ("user_id",)


@admin.register(Trip)
class TripAdmin(ViewOnlyAdmin):
    list_display = ("trip_id", "user_id", "status", "started_at", "ended_at", "distance_m")
    list_filter = ("status",)
    search_fields = ("user_id", "trip_id")
    exclude = ("track", "path")  # coordinates: staff see figures, not where someone went


@admin.register(Visit)
class VisitAdmin(ViewOnlyAdmin):
    list_display = ("visit_id", "user_id", "geofence_id", "entered_at", "exited_at")
    search_fields = ("user_id",)
