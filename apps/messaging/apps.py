from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "apps.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from apps.messaging import realtime
        from apps.messaging.api import router
        from apps.messaging.provider import MessagingProvider
        from cleave.api import register_router
        from cleave.contracts.registry import provide
        from contracts.messaging import MESSAGING

        provide(MESSAGING, MessagingProvider())
        register_router("/conversations", router)
        realtime.register()
