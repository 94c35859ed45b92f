from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "apps.payments"
    label = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from apps.payments.api import router
        from apps.payments.provider import PaymentsProvider
        from cleave.api import register_router
        from cleave.contracts.registry import provide
        from contracts.payments import PAYMENTS

        register_router("/payments", router)
        provide(PAYMENTS, PaymentsProvider())
