from django.apps import AppConfig


class CleaveDeployConfig(AppConfig):
    """Installed only for its management commands (`split`, `extract`, `context_data`): the
    runtime never imports this package, and an extracted service's image leaves it out."""

    name = "cleave_deploy"
    label = "cleave_deploy"
    verbose_name = "Cleave deploy tooling"
