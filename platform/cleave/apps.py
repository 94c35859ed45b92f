from django.apps import AppConfig


class CleaveConfig(AppConfig):
    name = "cleave"
    verbose_name = "Cleave kernel"

    def ready(self) -> None:
        from django.contrib import admin

        import cleave.celery  # noqa: F401 - binds @shared_task to Cleave's Celery app

        admin.site.site_header = "Cleave administration"
        admin.site.site_title = "Cleave admin"
        admin.site.index_title = "Contexts"
