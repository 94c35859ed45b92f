"""Who is calling: what a verified access token says, available as `request.auth`."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("user", "moderator", "staff", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    session_id: str
    roles: frozenset[str]
    expires_at: int  # unix seconds: the access token's `exp`
    platform: str | None = None  # the session's device, as identity saw it at login
    app_version: str | None = None

    def has_role(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)
