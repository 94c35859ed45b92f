from django.apps import AppConfig

# How often the periodic pass runs: idle trips, expired shares, the finished hour's areas.
PERIODIC_SECONDS = 30.0


class TrackingConfig(AppConfig):
    name = "apps.tracking"
    label = "tracking"
    verbose_name = "Tracking"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from apps.tracking import projections, realtime
        from apps.tracking.api import router
        from apps.tracking.provider import TrackingProvider
        from apps.tracking.roles import grant_auditor
        from apps.tracking.tasks import PERIODIC_TASK
        from cleave.api import register_router
        from cleave.background import register_periodic
        from cleave.contracts.registry import provide
        from contracts.tracking import TRACKING

        provide(TRACKING, TrackingProvider())
        register_router("/tracking", router)
        realtime.register()
        projections.register()
        register_periodic("tracking-periodic", PERIODIC_TASK, PERIODIC_SECONDS)
        post_migrate.connect(grant_auditor, sender=self)
