"""Who is calling: what a verified access token says, available as `request.auth`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

ROLES = ("user", "moderator", "staff", "admin")  # in rising order of power


def rank(roles: frozenset[str] | set[str]) -> int:
    """The highest role's place in ROLES (0 for a plain user)."""
    return max((ROLES.index(role) for role in roles if role in ROLES), default=0)


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


# The end user on whose behalf this code runs (set by the bearer auth, the socket's frame
# handlers and the internal API), so a contract call can carry them to the callee.
current_principal: ContextVar[Principal | None] = ContextVar("cleave_principal", default=None)


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    token = current_principal.set(principal)
    try:
        yield
    finally:
        current_principal.reset(token)
