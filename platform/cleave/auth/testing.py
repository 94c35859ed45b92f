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

from cleave.auth import keys
from cleave.auth.tokens import ALGORITHM, verified

Signer = Callable[..., str]


@contextmanager
def token_signer() -> Iterator[Signer]:
    private = Ed25519PrivateKey.generate()
    kid = f"test-{uuid.uuid4().hex[:8]}"
    jwk = {**OKPAlgorithm.to_jwk(private.public_key(), as_dict=True), "kid": kid, "alg": ALGORITHM}
    previous = keys._source  # noqa: SLF001 - restored below; tests only
    keys.register_source(lambda: {"keys": [jwk]})

    def sign(
        *, user_id: int, session_id: str | None = None, roles: tuple[str, ...] = ("user",)
    ) -> str:
        now = int(time.time())
        claims = {
            "iss": settings.CLEAVE_JWT_ISSUER,
            "aud": settings.CLEAVE_JWT_AUDIENCE,
            "sub": str(user_id),
            "sid": session_id or str(uuid.uuid4()),
            "roles": list(roles),
            "iat": now,
            "exp": now + settings.CLEAVE_ACCESS_TOKEN_SECONDS,
        }
        return jwt.encode(claims, private, algorithm=ALGORITHM, headers={"kid": kid})

    try:
        yield sign
    finally:
        verified.clear()
        if previous is not None:
            keys.register_source(previous)
        else:
            keys._source = None  # noqa: SLF001 - back to no source
            keys.forget_keys()
