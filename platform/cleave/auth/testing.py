"""Tokens for tests of any context, without identity: a throwaway key and its JWKS.

with token_signer() as sign:
    token = sign(user_id=7)                      # a valid access token for user 7
    client.get("/api/v1/...", HTTP_AUTHORIZATION=f"Bearer {token}")
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from jwt.algorithms import OKPAlgorithm

from cleave.auth import keys, revocation
from cleave.auth.tokens import ALGORITHM, verified

Signer = Callable[..., str]


@contextmanager
def token_signer() -> Iterator[Signer]:
    private = Ed25519PrivateKey.generate()
    kid = f"test-{uuid.uuid4().hex[:8]}"
    jwk = {**OKPAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, "alg": ALGORITHM}
    previous = keys._source  # restored below; tests only
    keys.register_source(lambda: {"keys": [jwk]})
    # The sessions it signs for exist nowhere else: it vouches for them (until revoked in the
    # cache, as a sign-out would); any other session is the real owner's to answer for.
    signed: set[str] = set()

    def vouch(session_ids: list[str]) -> set[str]:
        others = [sid for sid in session_ids if sid not in signed]
        return ask_owner(others) if others else set()

    ask_owner = revocation.swap_source(vouch)

    def sign(
        *, user_id: int, session_id: str | None = None, roles: tuple[str, ...] = ("user",)
    ) -> str:
        now = int(time.time())
        session_id = session_id or str(uuid.uuid4())
        signed.add(session_id)
        claims = {
            "iss": settings.CLEAVE_JWT_ISSUER,
            "aud": settings.CLEAVE_JWT_AUDIENCE,
            "sub": str(user_id),
            "sid": session_id,
            "roles": list(roles),
            "iat": now,
            "exp": now + settings.CLEAVE_ACCESS_TOKEN_SECONDS,
        }
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})

    try:
        yield sign
    finally:
        revocation.swap_source(ask_owner)
        verified.clear()
        if previous is not None:
            keys.register_source(previous)
        else:
            keys._source = None  # back to no source
            keys.forget_keys()
