from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from apps.notifications.api import router
        from cleave.api import register_router
        from cleave.realtime import register_event
        from contracts.notifications.frames import NotificationNew

        register_router("/notifications", router)
        register_event("notification.new", NotificationNew, stream="user")
