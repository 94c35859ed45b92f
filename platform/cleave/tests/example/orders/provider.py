from __future__ import annotations

from cleave.tests.example.contracts import OrderGet, OrderNotFound, OrderOut
from cleave.tests.example.orders.models import Order


class OrdersProvider:
    def order_get(self, query: OrderGet) -> OrderOut:
        order = Order.objects.filter(pk=query.order_id).first()
        if order is None:
            raise OrderNotFound(details={"order_id": query.order_id})
        return OrderOut(order_id=order.pk, total=order.total, note=order.note)
