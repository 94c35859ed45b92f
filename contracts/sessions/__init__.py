"""What the owner of sessions publishes to every process that verifies access tokens: which
sessions are revoked.

Verifying is kernel (`cleave.auth`), so every process can do it; the session rows live with the
context that signs users in (identity, the edge service in a split deployment). The kernel's
revocation list in the cache answers most checks; when the cache does not know a session (a
restart, a flushed or failed-over Redis), the kernel asks through this contract — in process
when the owner is hosted here, over HTTP (CLEAVE_SESSIONS_URL) otherwise — and refuses the
token when it cannot get an answer.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import Field

from cleave.contracts import Contract, ContractModel, call


class SessionsCheck(ContractModel):
    """Ask about these sessions (the `sid` claims of access tokens)."""

    session_ids: list[str] = Field(min_length=1, max_length=500)


class RevokedSessions(ContractModel):
    """Of the sessions asked about, those whose tokens must be refused: revoked, or unknown."""

    revoked: list[str]


class SessionsService(Protocol):
    @call(idempotent=True)
    def sessions_revoked(self, query: SessionsCheck) -> RevokedSessions: ...


SESSIONS = Contract(context="sessions", version="1.0", service=SessionsService)

__all__ = [
    "SESSIONS",
    "RevokedSessions",
    "SessionsCheck",
    "SessionsService",
]
