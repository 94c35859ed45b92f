from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CleaveConfig(AppConfig):
    name = "cleave"
    verbose_name = "Cleave kernel"

    def ready(self) -> None:
        from django.contrib import admin

        import cleave.boundaries  # noqa: F401 - registers the cross-context relation check
        import cleave.celery  # noqa: F401 - binds @shared_task to Cleave's Celery app
        import cleave.events.tasks  # noqa: F401 - registers the event bus's tasks

        admin.site.site_header = "Cleave administration"
        admin.site.site_title = "Cleave admin"
        admin.site.index_title = "Contexts"
        # Each context declares its subscribers in `subscribers.py`; importing registers them.
        autodiscover_modules("subscribers")
