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
from contracts.sessions import RevokedSessions, SessionsCheck


def _profile(user: User) -> UserProfile:
    return UserProfile(
        id=user.pk,
        email=user.email,
        display_name=user.display_name,
        is_active=user.is_active,
        email_verified=user.email_verified,
    )


class IdentityProvider:
    def user_get(self, query: UserGet) -> UserProfile:
        record = selectors.user_record_get(user_id=query.user_id)
        if record is None:
            raise UserNotFound(details={"user_id": query.user_id})
        return UserProfile(**record)

    def users_get(self, query: UsersGet) -> UserProfiles:
        return UserProfiles(
            users=[_profile(user) for user in selectors.user_list(user_ids=query.user_ids)]
        )

    def user_status(self, query: UserGet) -> UserStatus:
        record = selectors.user_record_get(user_id=query.user_id)
        return UserStatus(
            user_id=query.user_id,
            exists=record is not None,
            active=bool(record and record["is_active"]),
        )


class SessionsProvider:
    """identity's implementation of `contracts.sessions.SessionsService`: the kernel asks it
    when its revocation cache does not know a session."""

    def sessions_revoked(self, query: SessionsCheck) -> RevokedSessions:
        return RevokedSessions(
            revoked=selectors.session_revoked_list(session_ids=query.session_ids)
        )
