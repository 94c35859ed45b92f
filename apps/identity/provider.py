"""identity's implementation of `contracts.identity.IdentityService`."""

from __future__ import annotations

from apps.identity import selectors
from contracts.identity import UserGet, UserNotFound, UserProfile


class IdentityProvider:
    def user_get(self, query: UserGet) -> UserProfile:
        user = selectors.user_get(user_id=query.user_id)
        if user is None:
            raise UserNotFound(details={"user_id": query.user_id})
        return UserProfile(
            id=user.pk,
            email=user.email,
            display_name=user.display_name,
            is_active=user.is_active,
        )
