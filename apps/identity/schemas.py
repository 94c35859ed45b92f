"""Request and response bodies of identity's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from ninja import Schema
from pydantic import EmailStr, Field

from cleave.api import RequestSchema


class DeviceIn(RequestSchema):
    device_id: str = Field(
        min_length=1, max_length=128, description="Chosen by the app, stable per install."
    )
    platform: Literal["ios", "android", "web"]
    app_version: str = Field(
        min_length=1, max_length=32, pattern=r"^\d+(\.\d+){0,3}([-+][0-9A-Za-z.-]+)?$"
    )
    push_token: str | None = Field(default=None, max_length=512)


class RegisterIn(RequestSchema):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    # Room for surrounding spaces: the trimmed name must be 1–100 (services.display_names).
    display_name: str = Field(min_length=1, max_length=200)
    device: DeviceIn | None = None


class LoginIn(RequestSchema):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256)
    device: DeviceIn


class RefreshIn(RequestSchema):
    refresh: str = Field(min_length=1, max_length=256)


class UserOut(Schema):
    id: int
    email: str
    display_name: str
    locale: str
    timezone: str
    roles: list[str]
    email_verified: bool = Field(
        description="Whether the address is proven; until it is, conversations are closed to "
        "the account when the deployment requires verification."
    )


class TokensOut(Schema):
    access: str
    refresh: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - the OAuth token type, not a secret
    expires_in: int
    session_id: UUID
    user: UserOut


class RegisteredOut(Schema):
    user: UserOut
    tokens: TokensOut | None = None


class MeUpdateIn(RequestSchema):
    display_name: str | None = Field(default=None, min_length=1, max_length=200)
    locale: str | None = Field(
        default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$", max_length=35
    )
    timezone: str | None = Field(default=None, max_length=64)


class PasswordChangeIn(RequestSchema):
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256)


class PasswordResetIn(RequestSchema):
    email: EmailStr


class PasswordResetConfirmIn(RequestSchema):
    uid: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=1, max_length=128)
    new_password: str = Field(min_length=1, max_length=256)


class EmailVerifyIn(RequestSchema):
    token: str = Field(min_length=1, max_length=512, description="From the verification link.")


class EmailVerifiedOut(Schema):
    email: str
    email_verified: bool


class EmailChangeIn(RequestSchema):
    email: EmailStr
    password: str = Field(min_length=1, max_length=256, description="The current password.")


class PushTokenIn(RequestSchema):
    push_token: str = Field(max_length=512, description="Empty to clear.")


class DeviceOut(Schema):
    device_id: str
    platform: str
    app_version: str


class SessionOut(Schema):
    id: UUID
    current: bool = Field(description="The session making this request.")
    device: DeviceOut
    created_at: datetime
    last_seen_at: datetime

    @staticmethod
    def resolve_current(session: Any, context: dict[str, Any]) -> bool:
        principal = getattr(context["request"], "auth", None)
        return str(session.pk) == getattr(principal, "session_id", None)


class ProfileOut(Schema):
    id: int
    display_name: str


class StatusOut(Schema):
    status: str


class BlockOut(Schema):
    user_id: int
    display_name: str
    created_at: datetime

    @staticmethod
    def resolve_user_id(block: Any) -> int:
        return int(block.blocked_id)

    @staticmethod
    def resolve_display_name(block: Any) -> str:
        return str(block.blocked.display_name)
