from django.apps import AppConfig


class TicketingConfig(AppConfig):
    name = "apps.ticketing"
    label = "ticketing"
    verbose_name = "Ticketing"

    def ready(self) -> None:
        from apps.ticketing import realtime
        from apps.ticketing.api import router
        from apps.ticketing.provider import TicketingProvider
        from apps.ticketing.tasks import (
            ADMISSION_ROUND_SECONDS,
            HOLDS_EXPIRE_TASK,
            ROOMS_ADMIT_TASK,
        )
        from cleave.api import register_router
        from cleave.background import register_periodic
        from cleave.contracts.registry import provide
        from contracts.ticketing import TICKETING

        provide(TICKETING, TicketingProvider())
        register_router("/ticketing", router)
        realtime.register()
        # The hold sweeper: a beat entry in real mode, the embedded server's periodic thread
        # otherwise. Between sweeps a buyer who finds a category full expires its stale holds
        # first (services.holds), so an expired hold never keeps a seat from anyone.
        register_periodic("ticketing-holds-expire", HOLDS_EXPIRE_TASK, 15.0)
        register_periodic("ticketing-rooms-admit", ROOMS_ADMIT_TASK, ADMISSION_ROUND_SECONDS)
        realtime.register()
