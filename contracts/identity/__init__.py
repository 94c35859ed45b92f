"""What the identity context publishes: who a user is, and what happens to accounts and devices.

Other contexts hold user ids, ask identity for public profiles through `IdentityService`, and
learn about registrations, profile changes, deletions, devices and push tokens from events.
"""

from __future__ import annotations

from typing import ClassVar, Literal, Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractError, ContractModel, Event, call

Platform = Literal["ios", "android", "web"]


class UserGet(ContractModel):
    user_id: int = Field(gt=0)


class UsersGet(ContractModel):
    user_ids: list[int] = Field(max_length=500)


class UserProfile(ContractModel):
    """The public face of an account: what other contexts may show or check."""

    id: int
    email: str
    display_name: str
    is_active: bool
    # Since 1.1. Whether the account proved its address (messaging refuses unverified accounts
    # in conversations when CLEAVE_REQUIRE_EMAIL_VERIFICATION is on). False when an older
    # identity leaves it out: unknown means unproven.
    email_verified: bool = False


class UserProfiles(ContractModel):
    """Profiles of the ids that exist, in the order asked; unknown ids are left out."""

    users: list[UserProfile]


class UserStatus(ContractModel):
    user_id: int
    exists: bool
    active: bool


class UserNotFound(ContractError):
    code = "identity.user_not_found"
    status = 404
    message_template = "User {user_id} does not exist."


class IdentityService(Protocol):
    @call(idempotent=True, errors=[UserNotFound])
    def user_get(self, query: UserGet) -> UserProfile: ...

    @call(idempotent=True)
    def users_get(self, query: UsersGet) -> UserProfiles: ...

    @call(idempotent=True)
    def user_status(self, query: UserGet) -> UserStatus: ...


class UserRegistered(Event):
    event_type: ClassVar[str] = "identity.user_registered"
    user_id: int
    display_name: str


class UserUpdated(Event):
    event_type: ClassVar[str] = "identity.user_updated"
    user_id: int
    display_name: str
    locale: str
    timezone: str


class UserDeleted(Event):
    """The account is gone: every context erases what it holds about `user_id`."""

    event_type: ClassVar[str] = "identity.user_deleted"
    user_id: int


class DeviceRegistered(Event):
    event_type: ClassVar[str] = "identity.device_registered"
    user_id: int
    device_id: str
    platform: Platform
    app_version: str


class PushTokenChanged(Event):
    """A device's push token was set, replaced or cleared (`push_token` empty)."""

    event_type: ClassVar[str] = "identity.push_token_changed"
    user_id: int
    device_id: str
    platform: Platform
    push_token: str


class UserBlocked(Event):
    """`blocker_id` blocked `blocked_id`: the blocked user may no longer reach the blocker (start
    a direct conversation with them, invite them to a group). Published once per new block."""

    event_type: ClassVar[str] = "identity.user_blocked"
    blocker_id: int
    blocked_id: int


class UserUnblocked(Event):
    event_type: ClassVar[str] = "identity.user_unblocked"
    blocker_id: int
    blocked_id: int


class SessionRevoked(Event):
    event_type: ClassVar[str] = "identity.session_revoked"
    user_id: int
    session_id: str
    reason: str


IDENTITY = Contract(
    context="identity",
    version="1.1",
    service=IdentityService,
    events=(
        DeviceRegistered,
        PushTokenChanged,
        SessionRevoked,
        UserBlocked,
        UserDeleted,
        UserRegistered,
        UserUnblocked,
        UserUpdated,
    ),
)

__all__ = [
    "DeviceRegistered",
    "IDENTITY",
    "IdentityService",
    "Platform",
    "PushTokenChanged",
    "SessionRevoked",
    "UserBlocked",
    "UserDeleted",
    "UserGet",
    "UserNotFound",
    "UserProfile",
    "UserProfiles",
    "UserRegistered",
    "UserStatus",
    "UserUnblocked",
    "UserUpdated",
    "UsersGet",
]
