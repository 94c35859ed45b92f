"""Permission checks for any context: `auth=require_permission("messaging.delete_message")`.

Tokens carry roles, not permissions (there are too many to fit). The context that owns accounts
(identity) registers where a user's permissions come from — Django's groups and user
permissions — and the answer is cached briefly per user.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.cache import cache
from django.http import HttpRequest

from cleave.auth.ninja_auth import BearerAuth
from cleave.auth.principal import Principal
from cleave.errors import Forbidden

PERMISSIONS_CACHE_SECONDS = 60
_source: Callable[[int], frozenset[str]] | None = None


def register_source(source: Callable[[int], frozenset[str]]) -> None:
    """identity calls this from ready(): `source(user_id)` returns "app_label.codename" strings."""
    global _source  # one process-wide source, set once at start-up
    _source = source


def permissions_of(user_id: int) -> frozenset[str]:
    key = f"cleave:permissions:{user_id}"
    cached: frozenset[str] | None = cache.get(key)
    if cached is None:
        if _source is None:
            raise RuntimeError("no permission source: this process does not host identity")
        cached = _source(user_id)
        cache.set(key, cached, timeout=PERMISSIONS_CACHE_SECONDS)
    return cached


def forget_permissions(user_id: int) -> None:
    cache.delete(f"cleave:permissions:{user_id}")


class PermissionAuth(BearerAuth):
    def __init__(self, permission: str) -> None:
        super().__init__()
        self.permission = permission

    def authenticate(self, request: HttpRequest, token: str) -> Principal:
        principal = super().authenticate(request, token)
        if self.permission not in permissions_of(principal.user_id):
            raise Forbidden(details={"required_permission": self.permission})
        return principal


def require_permission(permission: str) -> PermissionAuth:
    """An auth dependency that also requires a Django permission (403 forbidden otherwise)."""
    return PermissionAuth(permission)
