"""ticketing's admin: the catalogue, holds and tickets, view-only; state changes are actions
that call the services (so the admin publishes what the API would: ShowPublished, …). Shows
are created with `manage.py seed_demo` in development and through the services elsewhere; an
edit form would bypass the key pair and the counter shards. A draft's category is laid out as
numbered seats by an action (rows × seats per row) calling `shows.category_seats_set`."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.ticketing.error_codes import (
    CategoryInUse,
    SeatLayoutInvalid,
    ShowAlreadyPublished,
    ShowIncomplete,
)
from apps.ticketing.models import (
    CategoryShard,
    CheckIn,
    Hold,
    Order,
    QueueEntry,
    Seat,
    SeatCategory,
    Show,
    Ticket,
    Venue,
    WaitingRoom,
)
from apps.ticketing.services import holds, shows, waiting_room
from apps.ticketing.services.seats import seat_grid
from cleave.admin_readonly import ViewOnlyAdmin, ViewOnlyInline
from cleave.databases import database_for
from cleave.sagas.admin import saga_admin_link, saga_timeline


@admin.register(Venue)
class VenueAdmin(ViewOnlyAdmin):
    list_display = ("id", "name", "city", "h3_cell")
    search_fields = ("name", "city")


class CategoryInline(ViewOnlyInline):
    model = SeatCategory
    fields = ("name", "price_cents", "currency", "capacity", "numbered", "shard_count")
    readonly_fields = fields


@admin.register(Show)
class ShowAdmin(ViewOnlyAdmin):
    list_display = ("id", "title", "venue", "starts_at", "status")
    list_filter = ("status",)
    search_fields = ("title", "venue__city")
    list_select_related = ("venue",)
    exclude = ("private_key",)
    inlines = (CategoryInline,)
    actions = ("publish",)

    @admin.action(description="Publish selected shows (puts them on sale; ShowPublished)")
    def publish(self, request: HttpRequest, queryset: QuerySet[Show]) -> None:
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                shows.show_publish(show_id=pk)
                done += 1
            except (ShowAlreadyPublished, ShowIncomplete) as exc:
                self.message_user(request, f"Show {pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} show(s) published.", messages.SUCCESS)


class ShardInline(ViewOnlyInline):
    model = CategoryShard
    fields = ("index", "capacity", "held", "sold")
    readonly_fields = fields


class SeatLayoutForm(ActionForm):
    """The layout action's inputs, in the changelist's action bar."""

    rows = forms.CharField(
        required=False, help_text="Row labels, best first: 'A-J' or 'A,B,C'.", max_length=400
    )
    per_row = forms.IntegerField(required=False, min_value=1, max_value=1000, label="seats/row")


def row_labels(text: str) -> list[str]:
    """'A-D' → A, B, C, D; 'AA, BB' → AA, BB (labels best first)."""
    text = text.strip()
    first, dash, last = text.partition("-")
    if dash and len(first.strip()) == 1 and len(last.strip()) == 1:
        return [chr(code) for code in range(ord(first.strip()), ord(last.strip()) + 1)]
    return [label for label in text.replace(",", " ").split() if label]


@admin.register(SeatCategory)
class SeatCategoryAdmin(ViewOnlyAdmin):
    list_display = ("id", "show", "name", "capacity", "numbered", "price_cents", "currency")
    list_filter = ("numbered",)
    list_select_related = ("show",)
    readonly_fields = ("seat_map",)
    inlines = (ShardInline,)
    action_form = SeatLayoutForm
    actions = ("lay_out_seats",)

    @admin.display(description="seats")
    def seat_map(self, category: SeatCategory) -> str:
        if not category.numbered:
            return "general admission (unnumbered)"
        url = reverse("admin:ticketing_seat_changelist") + f"?category__id__exact={category.pk}"
        return format_html('<a href="{}">{} seats</a>', url, category.capacity)

    @admin.action(description="Lay out numbered seats (rows × seats/row; draft shows only)")
    def lay_out_seats(self, request: HttpRequest, queryset: QuerySet[SeatCategory]) -> None:
        rows = row_labels(request.POST.get("rows", ""))
        per_row = int(request.POST.get("per_row") or 0)
        done = 0
        for pk in queryset.values_list("pk", flat=True):
            try:
                shows.category_seats_set(
                    category_id=pk, seats=seat_grid(rows=rows, per_row=per_row)
                )
                done += 1
            except (CategoryInUse, SeatLayoutInvalid) as exc:
                self.message_user(request, f"Category {pk}: {exc.message}", messages.WARNING)
        self.message_user(request, f"{done} categor(ies) laid out.", messages.SUCCESS)


class SeatStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("free", "free"), ("held", "held"), ("sold", "sold")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Seat]) -> QuerySet[Seat]:
        if self.value() == "free":
            return queryset.filter(hold=None)
        if self.value() == "held":
            return queryset.filter(hold__status=Hold.Status.ACTIVE)
        if self.value() == "sold":
            return queryset.filter(hold__status=Hold.Status.CONVERTED)
        return queryset


@admin.register(Seat)
class SeatAdmin(ViewOnlyAdmin):
    """A numbered category's seats (from its page's "seats" link), read-only: holds and
    tickets are what change them."""

    list_display = ("id", "category", "row", "number", "position", "hold")
    list_filter = (SeatStateFilter, "category")
    search_fields = ("=row",)
    list_select_related = ("category__show", "hold")
    ordering = ("category", "position")


@admin.register(Hold)
class HoldAdmin(ViewOnlyAdmin):
    list_display = ("id", "user_id", "category", "quantity", "status", "expires_at")
    list_filter = ("status",)
    search_fields = ("user_id",)
    list_select_related = ("category",)
    actions = ("release",)

    @admin.action(description="Release selected holds (their seats go back on sale)")
    def release(self, request: HttpRequest, queryset: QuerySet[Hold]) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        for pk in selected:
            holds.hold_release(hold_id=pk)
        self.message_user(request, f"{len(selected)} hold(s) released.", messages.SUCCESS)


@admin.register(Ticket)
class TicketAdmin(ViewOnlyAdmin):
    list_display = ("id", "user_id", "show", "category", "status", "order_ref", "issued_at")
    list_filter = ("status",)
    search_fields = ("user_id", "order_ref")
    list_select_related = ("show", "category")


@admin.register(CheckIn)
class CheckInAdmin(ViewOnlyAdmin):
    list_display = ("ticket", "gate", "scanned_at", "scanner_user_id", "received_at")
    search_fields = ("gate",)


@admin.register(WaitingRoom)
class WaitingRoomAdmin(admin.ModelAdmin):
    """Open a hot on-sale's waiting room (or change its rate) before it starts; deleting the
    room lets whoever waits through at the next admission round. Through the service."""

    list_display = ("show", "admissions_per_second", "tokens", "announced_at")
    list_select_related = ("show",)
    fields = ("show", "admissions_per_second")
    raw_id_fields = ("show",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("show",) if obj is not None else ()

    def save_model(self, request: HttpRequest, obj: WaitingRoom, form: Any, change: bool) -> None:
        room = waiting_room.waiting_room_set(
            show_id=obj.show_id, admissions_per_second=obj.admissions_per_second
        )
        obj.pk = room.pk if room is not None else obj.pk

    def delete_model(self, request: HttpRequest, obj: WaitingRoom) -> None:
        waiting_room.waiting_room_set(show_id=obj.show_id, admissions_per_second=None)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[WaitingRoom]) -> None:
        for show_id in queryset.values_list("show_id", flat=True):
            waiting_room.waiting_room_set(show_id=show_id, admissions_per_second=None)


@admin.register(QueueEntry)
class QueueEntryAdmin(ViewOnlyAdmin):
    list_display = ("id", "show", "user_id", "joined_at", "admitted_at")
    list_filter = (("admitted_at", admin.EmptyFieldListFilter),)
    search_fields = ("user_id",)
    list_select_related = ("show",)


@admin.register(Order)
class OrderAdmin(ViewOnlyAdmin):
    """Orders, read-only: their purchase saga's timeline inline, and a link to the saga's page,
    where staff retry or compensate it (audited there)."""

    list_display = ("id", "user_id", "category", "quantity", "amount_cents", "status", "reason",
                    "created_at")  # fmt: skip
    list_filter = ("status", "reason")
    search_fields = ("=id", "=user_id", "=payment_intent_id")
    list_select_related = ("category",)
    readonly_fields = ("saga", "timeline")

    @admin.display(description="purchase saga")
    def saga(self, order: Order) -> str:
        return saga_admin_link(order.pk)

    @admin.display(description="saga timeline")
    def timeline(self, order: Order) -> str:
        return saga_timeline(order.pk, using=database_for("ticketing"))
