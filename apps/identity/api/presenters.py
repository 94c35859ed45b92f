"""Model → response schema conversions shared by identity's endpoints."""

from __future__ import annotations

from apps.identity import selectors
from apps.identity.models import User
from apps.identity.schemas import TokensOut, UserOut
from apps.identity.services.sessions import IssuedTokens


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.pk,
        email=user.email,
        display_name=user.display_name,
        locale=user.locale,
        timezone=user.timezone,
        roles=sorted(selectors.user_role_list(user=user)),
        email_verified=user.email_verified,
    )


def tokens_out(tokens: IssuedTokens) -> TokensOut:
    return TokensOut(
        access=tokens.access,
        refresh=tokens.refresh,
        expires_in=tokens.expires_in,
        session_id=tokens.session.pk,
        user=user_out(tokens.user),
    )
