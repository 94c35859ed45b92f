"""The e-mail verification link's token: `django.core.signing` (HMAC with SECRET_KEY, a salt of
its own, a timestamp) over the account's id and a keyed hash of the address it is for.

Made where the mail is written (the task), so no token sits in the broker or in a failed task's
log line; read by `services.emails.email_verify`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac

from apps.identity.error_codes import VerificationExpired, VerificationInvalid
from apps.identity.models import User

SALT = "identity.email-verification"


def _address_tag(email: str) -> str:
    # Keyed, so the token does not carry the address itself (links end up in logs).
    return salted_hmac(f"{SALT}.address", email.lower()).hexdigest()[:24]


def verification_token(user: User) -> str:
    """A link token for the account's current address."""
    return signing.dumps({"u": user.pk, "e": _address_tag(user.email)}, salt=SALT)


def token_read(token: str) -> tuple[int, str]:
    """The account id and address tag a token names; expired or forged tokens raise."""
    try:
        payload: Any = signing.loads(
            token, salt=SALT, max_age=settings.CLEAVE_EMAIL_VERIFICATION_SECONDS
        )
    except signing.SignatureExpired:
        raise VerificationExpired() from None
    except signing.BadSignature:
        raise VerificationInvalid() from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("u"), int)
        and isinstance(payload.get("e"), str)
    ):
        raise VerificationInvalid()
    return payload["u"], payload["e"]


def token_matches(tag: str, user: User) -> bool:
    """Whether a token's address tag is the account's current address."""
    return constant_time_compare(tag, _address_tag(user.email))
