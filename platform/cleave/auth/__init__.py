"""Authentication every context shares: verify identity's access tokens, know who is calling.

Any process verifies tokens with identity's public keys (JWKS) — in-process in the monolith, or
fetched from `CLEAVE_JWKS_URL` by a service that does not host identity — and refuses tokens of
revoked sessions within seconds through a short-lived revocation list in the cache.
"""

from cleave.auth.errors import SessionRevoked, TokenExpired, TokenInvalid, TokenMissing
from cleave.auth.principal import Principal

__all__ = ["Principal", "SessionRevoked", "TokenExpired", "TokenInvalid", "TokenMissing"]
