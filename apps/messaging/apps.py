from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "apps.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from apps.messaging import realtime
        from apps.messaging.api import invitations_router, router
        from apps.messaging.provider import MessagingProvider
        from apps.messaging.services.sync import tombstones_purge
        from apps.messaging.throttles import send_limit
        from cleave.api import register_router
        from cleave.contracts.registry import provide
        from cleave.sync import register_tombstone_purge
        from contracts.messaging import MESSAGING

        provide(MESSAGING, MessagingProvider())
        register_router("/conversations", router)
        register_router("/invitations", invitations_router)
        send_limit()  # a malformed CLEAVE_MESSAGING_SEND_RATE stops the start, not a send
        realtime.register()
        register_tombstone_purge("messaging.conversations", tombstones_purge)
