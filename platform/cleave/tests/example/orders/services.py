from __future__ import annotations

from django.db import transaction

from cleave.databases import database_for
from cleave.events import publish
from cleave.tests.example.contracts import OrderPlaced
from cleave.tests.example.orders.models import Order


def order_place(*, total: int, note: str = "", fail_after_publish: bool = False) -> Order:
    with transaction.atomic(using=database_for("orders")):
        order = Order.objects.create(total=total, note=note)
        publish(OrderPlaced(aggregate_id=str(order.pk), order_id=order.pk, total=total, note=note))
        if fail_after_publish:
            raise RuntimeError("the service failed after publishing")
    return order
