"""A throwaway API with cursor-paginated lists of the example app's orders."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import path
from ninja import Schema
from ninja.pagination import paginate

from cleave.api import build_api
from cleave.pagination import CursorPagination
from cleave.tests.example.orders.models import Order

api = build_api(title="pagination test API", urls_namespace="pagination-test")


class OrderOut(Schema):
    id: int
    total: int
    note: str


@api.get("/orders", response=list[OrderOut])
@paginate(CursorPagination, ordering=("id",))
def orders_by_id(request: HttpRequest) -> QuerySet[Order]:
    return Order.objects.all()


@api.get("/orders/by-total", response=list[OrderOut])
@paginate(CursorPagination, ordering=("-total", "id"))
def orders_by_total_desc(request: HttpRequest) -> QuerySet[Order]:
    return Order.objects.all()


@api.get("/orders/by-note", response=list[OrderOut])
@paginate(CursorPagination, ordering=("note", "-total", "-pk"))
def orders_by_note(request: HttpRequest) -> QuerySet[Order]:
    return Order.objects.all()


@api.get("/orders/async", response=list[OrderOut])
@paginate(CursorPagination, ordering=("-id",))
async def orders_async(request: HttpRequest) -> QuerySet[Order]:
    return Order.objects.all()


urlpatterns = [path("api/test/", api.urls)]
