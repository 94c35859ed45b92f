"""Signing keys (Ed25519) and the access tokens they sign."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwt.algorithms import OKPAlgorithm

from apps.identity.models import SigningKey
from cleave.auth.keys import forget_keys
from cleave.auth.tokens import ALGORITHM
from cleave.databases import database_for

DB = database_for("identity")
# How long this process keeps signing with the key it loaded before looking for a newer one.
_ACTIVE_KEY_SECONDS = 60.0


@dataclass(frozen=True)
class _Signer:
    kid: str
    private_key: Ed25519PrivateKey


class _ActiveKey:
    def __init__(self) -> None:
        self._signer: _Signer | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def get(self) -> _Signer:
        signer = self._signer
        if signer is None or time.monotonic() - self._loaded_at > _ACTIVE_KEY_SECONDS:
            with self._lock:
                signer = self._signer = _load(signing_key_active())
                self._loaded_at = time.monotonic()
        return signer

    def forget(self) -> None:
        self._signer = None


_active = _ActiveKey()


def _load(key: SigningKey) -> _Signer:
    private = serialization.load_pem_private_key(key.private_key_pem.encode(), password=None)
    if not isinstance(private, Ed25519PrivateKey):
        raise TypeError(f"signing key {key.kid} is not an Ed25519 key")
    return _Signer(kid=key.kid, private_key=private)


def _new_key() -> SigningKey:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    kid = uuid.uuid4().hex[:16]
    jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    return SigningKey(
        kid=kid, private_key_pem=pem, public_jwk={**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}
    )


def signing_key_active() -> SigningKey:
    """The key that signs new tokens, created on first use."""
    key = SigningKey.objects.using(DB).filter(retired_at__isnull=True).first()
    if key is not None:
        return key
    try:
        with transaction.atomic(using=DB):
            key = _new_key()
            key.save(using=DB)
            return key
    except IntegrityError:  # another process created it first
        return SigningKey.objects.using(DB).get(retired_at__isnull=True)


def signing_key_rotate() -> SigningKey:
    """Start signing with a new key; the old one stays published until its tokens expire."""
    with transaction.atomic(using=DB):
        SigningKey.objects.using(DB).select_for_update().filter(retired_at__isnull=True).update(
            retired_at=timezone.now()
        )
        key = _new_key()
        key.save(using=DB)
    _active.forget()
    forget_keys()
    return key


def signing_keys_prune() -> int:
    """Delete keys retired longer ago than any token they signed can live."""
    cutoff = timezone.now() - timedelta(seconds=settings.CLEAVE_ACCESS_TOKEN_SECONDS + 60)
    deleted, _ = SigningKey.objects.using(DB).filter(retired_at__lt=cutoff).delete()
    return deleted


def access_token_issue(
    *,
    user_id: int,
    session_id: str,
    roles: frozenset[str],
    device: dict[str, str] | None = None,
) -> tuple[str, int]:
    """A signed access token for the session, and its lifetime in seconds. `device` (platform,
    app_version) rides along so any service can target flags without asking identity."""
    signer = _active.get()
    now = int(time.time())
    lifetime = settings.CLEAVE_ACCESS_TOKEN_SECONDS
    claims = {
        "iss": settings.CLEAVE_JWT_ISSUER,
        "aud": settings.CLEAVE_JWT_AUDIENCE,
        "sub": str(user_id),
        "sid": session_id,
        "roles": sorted(roles),
        "iat": now,
        "exp": now + lifetime,
    }
    if device:
        claims["dev"] = device
    token = jwt.encode(claims, signer.private_key, algorithm=ALGORITHM, headers={"kid": signer.kid})
    return token, lifetime


def forget_active_key() -> None:
    """Load the signing key again on next use (after a rotation elsewhere, and in tests)."""
    _active.forget()
