"""DRF authentication with Cleave's access tokens, so pipelines can call the ops API.

A bearer token yields its principal, not a row of the user table: the kernel runs beside any
context and needs no user model. DRF wants a user object in `request.user`, so the principal is
wrapped in a `TokenUser` that answers what DRF views ask (is_staff from the token's roles,
permissions from the registered permission source). Sessions (the browsable API, the admin)
still bring the user model's own row: that is what Django's session sign-in gives.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from cleave.auth.permissions import permissions_of
from cleave.auth.principal import Principal
from cleave.auth.tokens import bearer_token, verify_access_token
from cleave.errors import CleaveError

STAFF_ROLES = ("staff", "admin")


@dataclass(frozen=True, slots=True)
class TokenUser:
    """`request.user` for a bearer token: the token's principal, as DRF and Django expect a user.

    The account is live by construction: a token of a deactivated or deleted account, or one
    whose roles changed, belongs to a revoked session and never gets here."""

    principal: Principal
    is_authenticated = True
    is_anonymous = False
    is_active = True

    @property
    def pk(self) -> int:
        return self.principal.user_id

    @property
    def id(self) -> int:
        return self.principal.user_id

    @property
    def is_staff(self) -> bool:
        return self.principal.has_role(*STAFF_ROLES)

    def has_perm(self, perm: str, obj: object = None) -> bool:
        """Django's permissions ("app_label.codename") the account holds, through its groups or
        directly (all of them for a superuser), as the permission source says (cached briefly)."""
        return obj is None and perm in permissions_of(self.principal.user_id)

    def has_perms(self, perms: Iterable[str], obj: object = None) -> bool:
        return all(self.has_perm(perm, obj) for perm in perms)

    def __str__(self) -> str:
        return f"user {self.principal.user_id}"


class BearerAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[TokenUser, Principal] | None:
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        try:
            principal = verify_access_token(token)
        except CleaveError as error:
            raise AuthenticationFailed(error.message, code=error.code) from None
        return TokenUser(principal), principal

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsStaff(BasePermission):
    """Staff or admin: by the access token's roles (the context that issues tokens gives them to
    the staff group and to is_staff accounts alike), or a staff session in the browsable API."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
