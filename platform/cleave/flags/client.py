"""What server code calls: `is_active("messaging.edit", principal)` and `variant(...)`.

from cleave.flags.client import is_active
if not is_active("messaging.reactions", principal, default=False): raise FeatureDisabled()
"""

from __future__ import annotations

from django.conf import settings

from cleave.auth.principal import Principal
from cleave.errors import Forbidden
from cleave.flags.evaluation import Evaluation, FlagContext, evaluate
from cleave.gateway.client_version import current_client_version


class FeatureDisabled(Forbidden):
    code = "feature_disabled"
    message_template = "This feature is not available to you yet."


def context_for(
    principal: Principal | None,
    *,
    device_id: str | None = None,
    platform: str | None = None,
    app_version: str | None = None,
) -> FlagContext:
    # What the app says it runs now (given here, or its X-Client-Version header, the same
    # value the app-version policy reads); else what its session's device said at login.
    calling = current_client_version.get()
    return FlagContext(
        user_id=principal.user_id if principal else None,
        device_id=device_id,
        platform=platform
        or (calling.platform if calling else None)
        or (principal.platform if principal else None),
        app_version=app_version
        or (calling.version if calling else None)
        or (principal.app_version if principal else None),
        roles=principal.roles if principal else frozenset(),
        environment=settings.CLEAVE_ENVIRONMENT,
    )


def is_active(
    name: str, principal: Principal | None, *, default: bool = False, **device: str | None
) -> bool:
    return evaluate(name, context_for(principal, **device), default=default).value


def variant(name: str, principal: Principal | None, **device: str | None) -> str | None:
    return evaluate(name, context_for(principal, **device)).variant


def details(
    name: str, principal: Principal | None, *, default: bool = False, **device: str | None
) -> Evaluation:
    return evaluate(name, context_for(principal, **device), default=default)
