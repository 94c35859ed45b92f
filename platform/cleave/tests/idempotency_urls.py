"""A throwaway API under /api/v1/ whose writes are the example orders context's."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import path
from ninja import Schema, Status

from cleave.api import build_api
from cleave.auth.ninja_auth import bearer
from cleave.tests.example.orders.models import Order
from cleave.tests.example.orders.services import order_place
from cleave.urls import urlpatterns as cleave_urlpatterns

api = build_api(title="idempotency test API", urls_namespace="idempotency-test")


class OrderIn(Schema):
    total: int
    fail_after_write: bool = False


class OrderOut(Schema):
    id: int
    total: int
    orders: int


@api.post("/orders", response={201: OrderOut}, auth=bearer)
def order_create(request: HttpRequest, payload: OrderIn) -> Status[OrderOut]:
    order = order_place(total=payload.total)
    if payload.fail_after_write:
        raise RuntimeError("the handler failed after the service committed")
    return Status(201, OrderOut(id=order.pk, total=order.total, orders=Order.objects.count()))


@api.post("/orders/anonymous", response={201: OrderOut}, auth=None)
def order_create_anonymously(request: HttpRequest, payload: OrderIn) -> Status[OrderOut]:
    order = order_place(total=payload.total)
    return Status(201, OrderOut(id=order.pk, total=order.total, orders=Order.objects.count()))


urlpatterns = [path("api/v1/test/", api.urls), *cleave_urlpatterns]
