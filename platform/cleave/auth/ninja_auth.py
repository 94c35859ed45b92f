"""The auth dependency of every mobile endpoint: `auth=bearer` or `auth=require_role("staff")`.

router = Router(auth=bearer)
@router.get("/me")
def me(request): request.auth.user_id   # a cleave.auth.Principal
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import HttpBearer

from cleave.auth.errors import (
    RevocationUnknown,
    SessionRevoked,
    TokenExpired,
    TokenInvalid,
    TokenMissing,
)
from cleave.auth.principal import Principal, current_principal
from cleave.auth.tokens import bearer_token, verify_access_token
from cleave.errors import CleaveError, Forbidden


class BearerAuth(HttpBearer):
    """Accepts `Authorization: Bearer <access token>`; optionally requires one of `roles`."""

    def __init__(self, *, roles: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.roles = roles
        # What the OpenAPI document lists for every operation behind this dependency.
        self.raises: tuple[type[CleaveError], ...] = (
            TokenMissing,
            TokenInvalid,
            TokenExpired,
            SessionRevoked,
            RevocationUnknown,
            *((Forbidden,) if roles else ()),
        )

    def __call__(self, request: HttpRequest) -> Principal | None:
        # META, not request.headers: building the headers mapping parses every header.
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            raise TokenMissing()
        return self.authenticate(request, token)

    def revocation_wait(self) -> float | None:
        """How long a request waits to learn whether the token's session was revoked when the
        cache does not know (None: the kernel's default, cleave.auth.revocation). A route with a
        deadline of its own returns less, and handles `revocation_unknown`."""
        return None

    def authenticate(self, request: HttpRequest, token: str) -> Principal:
        principal = verify_access_token(token, wait=self.revocation_wait())
        if self.roles and not principal.has_role(*self.roles):
            raise Forbidden(details={"required_roles": sorted(self.roles)})
        request.principal = principal  # type: ignore[attr-defined]  # read by throttles and logs
        # Reset by RequestIdMiddleware when the request ends (threads serve many requests).
        current_principal.set(principal)
        return principal


bearer = BearerAuth()


def require_role(*roles: str) -> BearerAuth:
    """An auth dependency that also requires one of `roles` (403 forbidden otherwise)."""
    return BearerAuth(roles=frozenset(roles))


def principal_of(request: HttpRequest) -> Principal:
    """The authenticated principal of a request on a `bearer`-protected route."""
    # ninja sets `auth` on the request once authenticated; HttpRequest does not declare it.
    principal: Any = request.auth  # type: ignore[attr-defined]
    if not isinstance(principal, Principal):
        raise TypeError("principal_of() needs a route protected by cleave.auth.ninja_auth.bearer")
    return principal
