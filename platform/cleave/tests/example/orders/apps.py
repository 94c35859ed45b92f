from django.apps import AppConfig


class OrdersConfig(AppConfig):
    name = "cleave.tests.example.orders"
    label = "orders"

    def ready(self) -> None:
        from cleave.contracts.registry import provide
        from cleave.tests.example.contracts import ORDERS
        from cleave.tests.example.orders.provider import OrdersProvider

        provide(ORDERS, OrdersProvider())

        from cleave.eventstore import register_projection
        from cleave.tests.example.orders.projections import CustomerLedgerProjection

        register_projection(CustomerLedgerProjection())
