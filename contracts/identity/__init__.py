"""What the identity context publishes: who a user is, to any context that holds a user id."""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractError, ContractModel, call


class UserGet(ContractModel):
    user_id: int = Field(gt=0)


class UserProfile(ContractModel):
    """The public face of an account: what other contexts may show or check."""

    id: int
    email: str
    display_name: str
    is_active: bool


class UserNotFound(ContractError):
    code = "identity.user_not_found"
    status = 404
    message_template = "User {user_id} does not exist."


class IdentityService(Protocol):
    @call(idempotent=True, errors=[UserNotFound])
    def user_get(self, query: UserGet) -> UserProfile: ...


IDENTITY = Contract(context="identity", version="1.0", service=IdentityService)

__all__ = ["IDENTITY", "IdentityService", "UserGet", "UserNotFound", "UserProfile"]
