from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules


class CleaveConfig(AppConfig):
    name = "cleave"
    verbose_name = "Cleave kernel"

    def ready(self) -> None:
        import cleave.boundaries  # registers the cross-context relation check
        import cleave.celery  # binds @shared_task to Cleave's Celery app
        import cleave.declarations  # registers the checks of the declarations
        import cleave.events.tasks
        import cleave.eventstore.immutability  # SQLite's maintenance function on connect
        import cleave.eventstore.tasks
        import cleave.idempotency.tasks
        import cleave.sagas.checks  # registers the kill-point check
        import cleave.sagas.tasks
        import cleave.sync

        self._observability()
        self._memories()
        # Each context declares its subscribers in `subscribers.py`; importing registers them.
        autodiscover_modules("subscribers")
        # …and its sagas in `sagas.py` (cleave.sagas): importing defines them.
        autodiscover_modules("sagas")
        self._flags()
        # Streams and frames of the contexts hosted elsewhere, asked of their services.
        from cleave.realtime.remote import register_not_hosted

        register_not_hosted()
        # The roles contexts declare, as groups where the edge's accounts live.
        post_migrate.connect(cleave.declarations.create_role_groups, sender=self)

    def _observability(self) -> None:
        from django.conf import settings

        from cleave.observability import tracing

        # Before any WSGI handler loads its middleware: Django's instrumentation adds one.
        tracing.configure_from_env(settings.CLEAVE_SERVICE_NAME)

    def _memories(self) -> None:
        from cleave.app_versions.policy import forget_policies
        from cleave.auth.keys import forget_keys
        from cleave.auth.revocation import forget_checks
        from cleave.auth.tokens import verified
        from cleave.flags.definitions import forget_definitions
        from cleave.process_memory import register_forget

        for forget in (
            verified.clear,
            forget_checks,
            forget_keys,
            forget_definitions,
            forget_policies,
        ):
            register_forget(forget)

    def _flags(self) -> None:
        from django.conf import settings

        from cleave.api import register_router
        from cleave.contracts.registry import provide
        from cleave.flags.changes import FLAGS_STREAM
        from cleave.flags.provider import FlagsProvider
        from cleave.flags.views import router
        from cleave.realtime import register_event, register_streams
        from contracts.flags import FLAGS
        from contracts.flags.frames import FlagsChanged

        if settings.CLEAVE_FLAGS_HOME:
            provide(FLAGS, FlagsProvider())

        register_router("/flags", router)
        # Every socket hears flags.changed, so apps refetch /api/v1/flags at once.
        register_streams(
            FLAGS_STREAM,
            initial=lambda principal: [FLAGS_STREAM],
            readable=lambda principal, streams: set(streams),
        )
        register_event("flags.changed", FlagsChanged, stream=FLAGS_STREAM)
