from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "apps.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from django.urls import path

        from apps.identity import ops, selectors, views
        from apps.identity.api import router
        from apps.identity.provider import IdentityProvider, SessionsProvider
        from apps.identity.services import keys
        from cleave.api import register_router
        from cleave.auth.keys import register_source
        from cleave.auth.permissions import register_source as register_permission_source
        from cleave.contracts.registry import provide
        from cleave.process_memory import register_forget
        from cleave.realtime import register_event
        from cleave.routing import register_ops_urlpatterns, register_urlpatterns
        from contracts.identity import IDENTITY
        from contracts.identity.frames import ProfileUpdated
        from contracts.sessions import SESSIONS

        provide(IDENTITY, IdentityProvider())
        # The kernel asks here when its revocation cache does not know a session.
        provide(SESSIONS, SessionsProvider())
        register_router("/", router)
        # The user's other devices hear of a profile change on their own stream.
        register_event("user.updated", ProfileUpdated, stream="user")
        register_urlpatterns(path(".well-known/jwks.json", views.jwks, name="jwks"))
        register_ops_urlpatterns(
            path(
                "users/<int:user_id>/verify-email/",
                ops.UserVerifyEmail.as_view(),
                name="ops-user-verify-email",
            ),
            path("users/<int:user_id>/roles/", ops.UserRoles.as_view(), name="ops-user-roles"),
        )
        # This process verifies tokens with identity's keys directly, no HTTP round trip.
        register_source(selectors.jwks_get)
        register_permission_source(selectors.user_permission_list)
        # The active signing key and memoised profiles come from rows a test's flush removes.
        register_forget(keys.forget_active_key)
        register_forget(selectors.user_profiles_forget_memo)
