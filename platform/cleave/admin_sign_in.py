"""One staff sign-in for every service's admin (split mode).

Staff sign in once, at the edge service's admin (`/admin/`, where the accounts live). While
they browse it, the edge keeps a short-lived *staff token* in a cookie scoped to `/admin/`: an
EdDSA JWT signed with the edge's own service key (`CLEAVE_SERVICE_KEY`), audience
`cleave-admin`, naming the account and whether it is a superuser. Every other service mounts
its admin under `/admin/<service>/` (the gateway routes that prefix to it) and takes the staff
user from that cookie alone, verified with the edge's public key from the service JWKS it
already trusts — no shared secret, and no other service's key can mint one.

Why a token and not a shared session: Django's sessions live in each service's own database,
and a signed-cookie session would need one SECRET_KEY in every service (any service could then
forge any other's sessions). The token is refreshed by the edge on every admin page once half
its life is gone; a service whose cookie expired sends the browser to the edge's login, which,
for a signed-in staff member, sends it straight back with a fresh one. Signing out at the edge
deletes it; a copied token dies within `CLEAVE_ADMIN_STAFF_TOKEN_SECONDS`.

The account a service's admin acts as is a local row of its own user model, named by the
e-mail address (foreign keys such as the admin log need one): `is_staff`, and `is_superuser`
from the token, are set on each visit. Staff who are not superusers get permissions per
service, granted to that row in that service's admin. CSRF stays as it is: every form
carries the token of the shared `csrftoken` cookie, checked by each service.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse

from cleave.remote.service_tokens import ALGORITHM, ISSUER_PREFIX, public_jwk, signer, trusted_jwks

AUDIENCE = "cleave-admin"
COOKIE_PATH = "/admin/"
# Whoever signed it, a staff token meant to live longer than this is refused.
MAX_LIFETIME_SECONDS = 900


@dataclass(frozen=True, slots=True)
class StaffClaims:
    """Who signed in at the edge: the account's id there, its address, superuser or not."""

    user_id: str
    email: str
    superuser: bool
    issued_at: int
    expires_at: int


def signs_in_here() -> bool:
    """Whether staff sign in at this process's admin (the edge, or a monolith)."""
    edge = settings.CLEAVE_ADMIN_EDGE
    return edge is None or edge == settings.CLEAVE_SERVICE_NAME


def staff_token_issue(*, user: Any, now: float | None = None) -> str:
    """A staff token for `user` (active staff of this, the edge, service)."""
    issued = int(time.time() if now is None else now)
    kid, key, service = signer.signing_key()
    email = getattr(user, "email", "") or str(user.get_username())
    claims = {
        "iss": ISSUER_PREFIX + service,
        "aud": AUDIENCE,
        "sub": str(user.pk),
        "email": email,
        "su": bool(user.is_superuser),
        "iat": issued,
        "exp": issued + settings.CLEAVE_ADMIN_STAFF_TOKEN_SECONDS,
    }
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid})


def staff_token_accept(token: str | None) -> StaffClaims | None:
    """The claims of a valid staff token signed by the edge's key, else None."""
    if not token:
        return None
    edge = settings.CLEAVE_ADMIN_EDGE or settings.CLEAVE_SERVICE_NAME
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        return None
    key = _edge_keys(edge).get(kid) if isinstance(kid, str) else None
    if key is None:
        return None
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER_PREFIX + edge,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "email"]},
        )
    except jwt.PyJWTError:
        return None
    if claims["exp"] - claims["iat"] > MAX_LIFETIME_SECONDS or not claims["email"]:
        return None
    return StaffClaims(
        user_id=str(claims["sub"]),
        email=str(claims["email"]),
        superuser=claims.get("su") is True,
        issued_at=int(claims["iat"]),
        expires_at=int(claims["exp"]),
    )


def _edge_keys(edge: str) -> dict[str, jwt.PyJWK]:
    """The edge's public keys: those of the trusted JWKS whose id names it (a key id is
    `<service>-<hash>`), and this process's own when it is the edge."""
    # `<service>-<hash>`: split at the last dash, so a service `edge-two` is not `edge`.
    keys = [
        k for k in trusted_jwks().get("keys", []) if str(k.get("kid")).rpartition("-")[0] == edge
    ]
    if edge == settings.CLEAVE_SERVICE_NAME and settings.CLEAVE_SERVICE_KEY:
        keys.append(public_jwk(edge, settings.CLEAVE_SERVICE_KEY))
    return {key["kid"]: jwt.PyJWK(key) for key in keys}


def staff_user(claims: StaffClaims) -> AbstractBaseUser:
    """This service's row for the staff member (created on the first visit), flags in step."""
    model = get_user_model()
    user, created = model._default_manager.get_or_create(
        **{model.USERNAME_FIELD: claims.email},
        defaults={"is_staff": True, "is_superuser": claims.superuser, "is_active": True},
    )
    if created:
        user.set_unusable_password()  # never signs in here: the edge does that
        user.save(update_fields=["password"])
    elif (user.is_staff, user.is_superuser, user.is_active) != (True, claims.superuser, True):
        user.is_staff, user.is_superuser, user.is_active = True, claims.superuser, True
        user.save(update_fields=["is_staff", "is_superuser", "is_active"])
    return user


class StaffSignInMiddleware:
    """On admin paths: the edge keeps the staff cookie fresh (or deletes it once signed out);
    every other service takes the admin's user from it and from nothing else."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(COOKIE_PATH):
            return self.get_response(request)
        cookie = request.COOKIES.get(settings.CLEAVE_ADMIN_STAFF_COOKIE)
        if not signs_in_here():
            claims = staff_token_accept(cookie)
            # This service's user model; the stubs assume the edge's (AUTH_USER_MODEL of the
            # monolith), which a service without identity does not have.
            request.user = staff_user(claims) if claims else AnonymousUser()  # type: ignore[assignment]
            return self.get_response(request)
        response = self.get_response(request)
        if settings.CLEAVE_SERVICE_KEY:  # split mode: other services read the cookie
            self._keep_fresh(request, response, cookie)
        return response

    def _keep_fresh(self, request: HttpRequest, response: HttpResponse, cookie: str | None) -> None:
        user = getattr(request, "user", None)  # after the view: login and logout change it
        name = settings.CLEAVE_ADMIN_STAFF_COOKIE
        if user is None or not (user.is_active and user.is_staff):
            if cookie is not None:
                response.delete_cookie(name, path=COOKIE_PATH, samesite="Lax")
            return
        current = staff_token_accept(cookie)
        now = time.time()
        if (
            current is not None
            and current.user_id == str(user.pk)
            and current.superuser == bool(user.is_superuser)
            and current.expires_at - now > settings.CLEAVE_ADMIN_STAFF_TOKEN_SECONDS / 2
        ):
            return
        response.set_cookie(
            name,
            staff_token_issue(user=user, now=now),
            max_age=settings.CLEAVE_ADMIN_STAFF_TOKEN_SECONDS,
            path=COOKIE_PATH,
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
            samesite="Lax",
        )
