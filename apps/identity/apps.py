from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "apps.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from apps.identity.provider import IdentityProvider
        from cleave.contracts.registry import provide
        from contracts.identity import IDENTITY

        provide(IDENTITY, IdentityProvider())
