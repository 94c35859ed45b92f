"""A small stand-in for identity, implementing its contract: messaging's tests need no identity."""

from __future__ import annotations

from contracts.identity import (
    UserGet,
    UserNotFound,
    UserProfile,
    UserProfiles,
    UsersGet,
    UserStatus,
)


class FakeIdentity:
    def __init__(self) -> None:
        self.users: dict[int, UserProfile] = {}

    def add(
        self, user_id: int, name: str = "", *, active: bool = True, verified: bool = True
    ) -> int:
        self.users[user_id] = UserProfile(
            id=user_id,
            email=f"u{user_id}@example.com",
            display_name=name or f"User {user_id}",
            is_active=active,
            email_verified=verified,
        )
        return user_id

    def user_get(self, query: UserGet) -> UserProfile:
        if query.user_id not in self.users:
            raise UserNotFound(details={"user_id": query.user_id})
        return self.users[query.user_id]

    def users_get(self, query: UsersGet) -> UserProfiles:
        return UserProfiles(
            users=[self.users[i] for i in dict.fromkeys(query.user_ids) if i in self.users]
        )

    def user_status(self, query: UserGet) -> UserStatus:
        user = self.users.get(query.user_id)
        return UserStatus(
            user_id=query.user_id, exists=user is not None, active=bool(user and user.is_active)
        )
