"""Keep secrets out of log lines: bearer tokens, JWTs, refresh tokens, passwords, keys.

A filter on the log handler rewrites the formatted message (and any exception text) before it
is written, so a careless `logger.info("%s", request.headers)` or an exception quoting a token
cannot leak one. Patterns, not field names: a secret inside free text is caught too. Two more
nets: the password inside any `scheme://user:password@host` URL, and the literal values of this
process's own secrets (SECRET_KEY, the service key, encryption keys), which settings register
with `remember_secrets` at start-up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from cleave.config import MASK, mask_url_passwords

# Shorter values are not masked literally: they would blot out ordinary words.
_MIN_REMEMBERED_LENGTH = 8
_remembered: set[str] = set()
_PATTERNS = (
    # Authorization headers and the like: keep the scheme, drop the credential.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    # JWTs anywhere (three base64url parts, the first a JSON header: "eyJ…").
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"), MASK),
    # key=value / "key": "value" for secret-looking keys.
    (
        re.compile(
            r"""(?ix)
            (["']?\b[a-z_]*(?:password|passwd|secret|token|api_?key|private_?key|
                              encryption_?keys?|hash_?key|service_?key)\b["']?
             \s*[:=]\s*)
            (?:"[^"]*"|'[^']*'|[^\s"',}&]+)
            """
        ),
        rf"\1'{MASK}'",
    ),
)


def remember_secrets(values: Iterable[str | None]) -> None:
    """Mask these exact values wherever they appear in a log line (this process's own keys)."""
    _remembered.update(v for v in values if v and len(v) >= _MIN_REMEMBERED_LENGTH)


def redact(text: str) -> str:
    for secret in _remembered:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    # Passwords inside URLs (postgres://user:pw@host, redis://:pw@host, smtp://user:pw@host).
    return mask_url_passwords(text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
