"""The `orders` example context's published contract (as contracts/<context>/ would hold it)."""

from __future__ import annotations

from typing import ClassVar, Protocol

from cleave.contracts import Contract, ContractError, ContractModel, Event, call


class OrderGet(ContractModel):
    order_id: int


class OrderOut(ContractModel):
    order_id: int
    total: int
    note: str


class OrderNotFound(ContractError):
    code = "orders.order_not_found"
    status = 404
    message_template = "Order {order_id} does not exist."


class OrderPlaced(Event):
    event_type: ClassVar[str] = "orders.order_placed"
    version: ClassVar[int] = 2
    order_id: int
    total: int
    note: str


class OrderPaid(Event):
    event_type: ClassVar[str] = "orders.order_paid"
    order_id: int
    total: int


class OrdersService(Protocol):
    @call(idempotent=True, errors=[OrderNotFound])
    def order_get(self, query: OrderGet) -> OrderOut: ...


ORDERS = Contract(
    context="orders", version="1.0", service=OrdersService, events=(OrderPaid, OrderPlaced)
)
