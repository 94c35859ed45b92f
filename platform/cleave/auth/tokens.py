"""Verify an access token (JWT, EdDSA) into a `Principal`.

A mobile app sends the same token for up to 15 minutes, so a verified token is remembered (by
its exact bytes, until it expires) and later requests skip the signature check; the revocation
list is still consulted on every request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

import jwt
from django.conf import settings

from cleave.auth import keys, revocation
from cleave.auth.errors import SessionRevoked, TokenExpired, TokenInvalid
from cleave.auth.principal import Principal
from cleave.errors import CleaveError

ALGORITHM = "EdDSA"
_REMEMBERED = 10_000


class _VerifiedTokens:
    """A bounded LRU of token → principal; entries die with their token."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[str, Principal] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        with self._lock:
            principal = self._items.get(token)
            if principal is not None:
                self._items.move_to_end(token)
            return principal

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            self._items[token] = principal
            if len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


verified = _VerifiedTokens(_REMEMBERED)


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header value, or None."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def verify_access_token(token: str, *, wait: float | None = None) -> Principal:
    """The principal of a valid, unexpired token of a live session; else a 401 error (503
    `revocation_unknown` when whether its session was revoked cannot be told, within `wait`
    seconds when given: cleave.auth.revocation)."""
    checked = verify_access_tokens([token], wait=wait)[0]
    if isinstance(checked, CleaveError):
        raise checked
    return checked


def verify_access_tokens(
    tokens: list[str], *, wait: float | None = None
) -> list[Principal | CleaveError]:
    """`verify_access_token` for many tokens at once (sockets reconnecting together): one
    revocation lookup for all; each token gets its principal or its own error. The one
    implementation: a single token is a batch of one."""
    checked: list[Principal | CleaveError] = []
    for token in tokens:
        try:
            principal = verified.get(token)
            if principal is None:
                principal = _verify_signature(token)
                verified.put(token, principal)
            elif principal.expires_at <= time.time():
                raise TokenExpired()
            checked.append(principal)
        except CleaveError as error:
            checked.append(error)
    live = [p.session_id for p in checked if isinstance(p, Principal)]
    revoked = revocation.revoked_among(live, wait=wait)
    return [
        SessionRevoked() if isinstance(p, Principal) and p.session_id in revoked else p
        for p in checked
    ]


def _verify_signature(token: str) -> Principal:
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenInvalid() from None
    kid = header.get("kid")
    key = keys.public_key(kid) if isinstance(kid, str) else None
    if key is None or header.get("alg") != ALGORITHM:
        raise TokenInvalid()
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=settings.CLEAVE_JWT_AUDIENCE,
            issuer=settings.CLEAVE_JWT_ISSUER,
            options={"require": ["exp", "iat", "sub", "sid", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenExpired() from None
    except jwt.PyJWTError:
        raise TokenInvalid() from None
    try:
        raw_device = claims.get("dev")
        device = raw_device if isinstance(raw_device, dict) else {}
        return Principal(
            user_id=int(claims["sub"]),
            session_id=str(claims["sid"]),
            roles=frozenset(claims.get("roles", [])),
            expires_at=int(claims["exp"]),
            platform=device.get("platform"),
            app_version=device.get("app_version"),
        )
    except (TypeError, ValueError):
        raise TokenInvalid() from None
