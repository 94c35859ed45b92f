"""DRF authentication with Cleave's access tokens, so pipelines can call the ops API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from cleave.auth.principal import Principal
from cleave.auth.tokens import bearer_token, verify_access_token
from cleave.errors import CleaveError


class BearerAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        token = bearer_token(request.META.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        try:
            principal = verify_access_token(token)
        except CleaveError as error:
            raise AuthenticationFailed(error.message, code=error.code) from None
        user = get_user_model().objects.filter(pk=principal.user_id, is_active=True).first()
        if user is None:
            raise AuthenticationFailed("No such account.")
        return user, principal

    def authenticate_header(self, request: Request) -> str:
        return "Bearer"


class IsStaff(BasePermission):
    """Staff or admin: by the access token's roles (identity gives them to the staff group and
    to is_staff accounts alike), or a staff session in the browsable API."""

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.auth
        if isinstance(principal, Principal):
            return principal.has_role("staff", "admin")
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
