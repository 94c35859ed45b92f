"""Why a request is not authenticated: one code per reason, all 401 — but one: 503 when
nobody can say whether the session is still signed in (the token is refused all the same)."""

from __future__ import annotations

from cleave.errors import ServiceUnavailable, Unauthorized


class TokenMissing(Unauthorized):
    code = "token_missing"
    message_template = "Send an access token: Authorization: Bearer <token>."


class TokenInvalid(Unauthorized):
    code = "token_invalid"
    message_template = "The access token is not valid."


class TokenExpired(Unauthorized):
    code = "token_expired"
    message_template = "The access token has expired; refresh it."


class SessionRevoked(Unauthorized):
    code = "session_revoked"
    message_template = "This session was signed out; log in again."


class RevocationUnknown(ServiceUnavailable):
    code = "revocation_unknown"
    message_template = "Cannot check this session right now; try again shortly."
