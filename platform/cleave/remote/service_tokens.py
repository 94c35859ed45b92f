"""Service-to-service tokens: short-lived EdDSA JWTs whose audience is the called context.

Each service signs with its own private key (`CLEAVE_SERVICE_KEY`, never shared); a callee
verifies with the public keys in `CLEAVE_SERVICE_JWKS` (a file, or the JSON itself), so there is
no static secret in a header that one leaked log line could replay against every service. The
end user the call is made for, if any, rides in the `usr` claim.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from cleave.auth.principal import Principal
from cleave.errors import Unauthorized

ALGORITHM = "EdDSA"
ISSUER_PREFIX = "cleave-service:"
AUDIENCE_PREFIX = "cleave-internal:"
# A callee refuses tokens meant to live longer than this, whoever signed them.
MAX_LIFETIME_SECONDS = 300


class ServiceTokenRefused(Unauthorized):
    code = "service_token_invalid"
    message_template = "This endpoint takes a valid service token for {context}."


@dataclass(frozen=True, slots=True)
class ServiceCaller:
    """Who called an internal endpoint: the calling service, and the user it acted for."""

    service: str
    principal: Principal | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def generate_key(service: str) -> tuple[str, dict[str, Any]]:
    """A new key pair for `service`: (private key for CLEAVE_SERVICE_KEY, public JWK)."""
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes_raw()
    return _b64(raw), public_jwk(service, _b64(raw))


def public_jwk(service: str, private_key: str) -> dict[str, Any]:
    public = Ed25519PrivateKey.from_private_bytes(_unb64(private_key)).public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    kid = f"{service}-{hashlib.sha256(raw).hexdigest()[:12]}"
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": _b64(raw),
        "kid": kid,
        "use": "sig",
        "alg": "EdDSA",
    }


class _Signer:
    """Mints tokens with this service's key; one token per (audience, session) is reused for
    half its life, so a busy caller signs a few times a minute, not once a call."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str | None], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._key: tuple[str, Ed25519PrivateKey, str] | None = None

    def token_for(self, context: str, principal: Principal | None) -> str:
        now = time.time()
        cache_key = (context, principal.session_id if principal else None)
        cached = self._tokens.get(cache_key)
        if cached is not None and cached[1] > now:
            return cached[0]
        lifetime = settings.CLEAVE_SERVICE_TOKEN_SECONDS
        kid, key, service = self.signing_key()
        claims: dict[str, Any] = {
            "iss": ISSUER_PREFIX + service,
            "aud": AUDIENCE_PREFIX + context,
            "iat": int(now),
            "exp": int(now) + lifetime,
        }
        if principal is not None:
            claims["usr"] = {
                "sub": str(principal.user_id),
                "sid": principal.session_id,
                "roles": sorted(principal.roles),
                "exp": principal.expires_at,
            }
            # Never outlive the user's own access token.
            claims["exp"] = min(claims["exp"], principal.expires_at)
        token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[cache_key] = (token, min(now + lifetime / 2, claims["exp"] - 5))
        return token

    def signing_key(self) -> tuple[str, Ed25519PrivateKey, str]:
        if self._key is None:
            raw = settings.CLEAVE_SERVICE_KEY
            if not raw:
                raise ImproperlyConfigured(
                    "Calling another service needs CLEAVE_SERVICE_KEY (this service's private "
                    "key; `manage.py service_keys generate <name>` makes one)."
                )
            service = settings.CLEAVE_SERVICE_NAME
            key = Ed25519PrivateKey.from_private_bytes(_unb64(raw))
            self._key = (public_jwk(service, raw)["kid"], key, service)
        return self._key

    def forget(self) -> None:
        with self._lock:
            self._tokens.clear()
            self._key = None


class _Verifier:
    """Checks tokens against the trusted JWKS; a verified token is remembered until it expires."""

    def __init__(self) -> None:
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._verified: dict[tuple[str, str], tuple[ServiceCaller, float]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str, context: str) -> ServiceCaller:
        now = time.time()
        remembered = self._verified.get((token, context))
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        caller, expires_at = self._check(token, context)
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified[(token, context)] = (caller, expires_at)
        return caller

    def _check(self, token: str, context: str) -> tuple[ServiceCaller, float]:
        refused = ServiceTokenRefused(details={"context": context})
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise refused from None
        key = self._trusted().get(kid) if isinstance(kid, str) else None
        if key is None:
            raise refused
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE_PREFIX + context,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )
        except jwt.PyJWTError:
            raise refused from None
        issuer = str(claims["iss"])
        if not issuer.startswith(ISSUER_PREFIX) or claims["exp"] - claims["iat"] > (
            MAX_LIFETIME_SECONDS
        ):
            raise refused
        return ServiceCaller(issuer.removeprefix(ISSUER_PREFIX), _principal(claims)), float(
            claims["exp"]
        )

    def _trusted(self) -> dict[str, jwt.PyJWK]:
        if self._keys is None:
            self._keys = {key["kid"]: jwt.PyJWK(key) for key in trusted_jwks().get("keys", [])}
        return self._keys

    def forget(self) -> None:
        with self._lock:
            self._keys = None
            self._verified.clear()


def _principal(claims: dict[str, Any]) -> Principal | None:
    user = claims.get("usr")
    if not isinstance(user, dict):
        return None
    try:
        return Principal(
            user_id=int(user["sub"]),
            session_id=str(user["sid"]),
            roles=frozenset(str(role) for role in user.get("roles", [])),
            expires_at=int(user["exp"]),
        )
    except (KeyError, TypeError, ValueError):
        raise ServiceTokenRefused(details={"reason": "malformed usr claim"}) from None


def trusted_jwks() -> dict[str, Any]:
    """The public keys of the services allowed to call this one (CLEAVE_SERVICE_JWKS)."""
    raw = settings.CLEAVE_SERVICE_JWKS
    if not raw:
        return {"keys": []}
    text = raw if raw.lstrip().startswith("{") else Path(raw).read_text()
    try:
        loaded: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImproperlyConfigured(f"CLEAVE_SERVICE_JWKS is not a JWKS: {exc}") from exc
    return loaded


signer = _Signer()
verifier = _Verifier()


def forget() -> None:
    """Drop cached keys and tokens (after settings change, and in tests)."""
    signer.forget()
    verifier.forget()
