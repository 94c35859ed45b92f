"""identity's implementation of `contracts.identity.IdentityService`."""

from __future__ import annotations

from apps.identity import selectors
from apps.identity.models import User
from contracts.identity import (
    UserGet,
    UserNotFound,
    UserProfile,
    UserProfiles,
    UsersGet,
    UserStatus,
)


def _profile(user: User) -> UserProfile:
    return UserProfile(
        id=user.pk, email=user.email, display_name=user.display_name, is_active=user.is_active
    )


class IdentityProvider:
    def user_get(self, query: UserGet) -> UserProfile:
        user = selectors.user_get(user_id=query.user_id)
        if user is None:
            raise UserNotFound(details={"user_id": query.user_id})
        return _profile(user)

    def users_get(self, query: UsersGet) -> UserProfiles:
        return UserProfiles(
            users=[_profile(user) for user in selectors.users_get(user_ids=query.user_ids)]
        )

    def user_status(self, query: UserGet) -> UserStatus:
        user = selectors.user_get(user_id=query.user_id)
        return UserStatus(
            user_id=query.user_id, exists=user is not None, active=bool(user and user.is_active)
        )
