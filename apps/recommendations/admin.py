"""recommendations's admin: the read models read-only (events feed them), geofences placed by
staff through the service, and the experiment's click-through per variant."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from apps.recommendations.models import (
    AreaActivity,
    CoPurchase,
    Exposure,
    Feedback,
    GeofenceCell,
    PlaceVisit,
    Show,
    VariantStat,
)
from apps.recommendations.services import signals
from cleave.admin_readonly import ViewOnlyAdmin


@admin.register(Show)
class ShowAdmin(ViewOnlyAdmin):
    list_display = ("show_id", "title", "starts_at", "city", "cell", "buyers")
    search_fields = ("title", "city", "cell")


@admin.register(CoPurchase)
class CoPurchaseAdmin(ViewOnlyAdmin):
    list_display = ("show_id", "other_show_id", "buyers")


@admin.register(AreaActivity)
class AreaActivityAdmin(ViewOnlyAdmin):
    list_display = ("cell", "hour", "visitors")


@admin.register(PlaceVisit)
class PlaceVisitAdmin(ViewOnlyAdmin):
    list_display = ("user_id", "geofence_id", "visits", "last_at")


@admin.register(Exposure)
class ExposureAdmin(ViewOnlyAdmin):
    list_display = ("user_id", "variant", "first_at")
    list_filter = ("variant",)


@admin.register(Feedback)
class FeedbackAdmin(ViewOnlyAdmin):
    list_display = ("user_id", "variant", "show_id", "kind", "created_at")
    list_filter = ("variant", "kind")


@admin.register(VariantStat)
class VariantStatAdmin(ViewOnlyAdmin):
    """The experiment's scoreboard: click-through = clicks / impressions per variant."""

    list_display = (
        "variant",
        "exposures",
        "impressions",
        "clicks",
        "dismissals",
        "click_through",
    )

    @admin.display(description="click-through")
    def click_through(self, obj: VariantStat) -> str:
        if not obj.impressions:
            return "–"
        return f"{100 * obj.clicks / obj.impressions:.1f} %"


@admin.register(GeofenceCell)
class GeofenceCellAdmin(admin.ModelAdmin):
    """Where a geofence lies (tracking's events carry its id only): its visits count as the
    visitor's places in their recommendations."""

    list_display = ("geofence_id", "cell", "note")

    def save_model(self, request: HttpRequest, obj: GeofenceCell, form: Any, change: bool) -> None:
        saved = signals.geofence_cell_set(geofence_id=obj.geofence_id, cell=obj.cell, note=obj.note)
        obj.pk = saved.pk
