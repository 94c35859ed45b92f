"""Issue 16, finding 5: secrets never appear in a repr, a log line or Django's debug page.

The runtime config (`settings.CONFIG`, a typed value from `cleave.config.load`) is not a
setting whose name Django masks, so its repr used to print SECRET_KEY, the service key and the
passwords inside the database, Redis and mail URLs on every technical 500 page.
"""

from __future__ import annotations

import io
import logging
import sys
from typing import Any

import pytest
from django.conf import settings
from django.test import RequestFactory, override_settings
from django.views.debug import technical_500_response

from cleave.config import load
from cleave.gateway.redaction import RedactSecretsFilter

SECRET_KEY = "sk-Vq3ZpL8wYt2Nf6Hr9Bx4Dm7Kc1Js5Gu0Ea" + "Wi2Ro8Ty4Up6" * 2
SERVICE_KEY = "svc-key-3Fh8Qw2Lp9Zx"
DB_PASSWORD = "pg-pass-7f3a9c1e"
DB2_PASSWORD = "pg-pass-msg-99aa21"
REDIS_PASSWORD = "redis-pass-41be7d"
MAIL_PASSWORD = "mail-pass-0c9e21"
SECRETS = (SECRET_KEY, SERVICE_KEY, DB_PASSWORD, DB2_PASSWORD, REDIS_PASSWORD, MAIL_PASSWORD)
ENV = {
    "CLEAVE_MODE": "real",
    "DEBUG": "false",
    "SECRET_KEY": SECRET_KEY,
    "ALLOWED_HOSTS": "api.example.com",
    "DATABASE_URL": f"postgres://cleave:{DB_PASSWORD}@db.internal:5432/cleave",
    "DATABASE_URL_MESSAGING": f"postgres://msg:{DB2_PASSWORD}@db2.internal:5432/messaging",
    "REDIS_URL": f"redis://:{REDIS_PASSWORD}@cache.internal:6379/0",
    "EMAIL_URL": f"smtp+tls://mailer:{MAIL_PASSWORD}@smtp.internal:587",
    "CLEAVE_SERVICE_KEY": SERVICE_KEY,
}


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_config_repr_and_str_show_no_secret_but_still_say_where_things_are() -> None:
    config = load(ENV)
    text = repr(config) + str(config) + f"{config!r} {config}"
    assert _leaks(text) == []
    assert "db.internal" in text
    assert "cache.internal" in text


def _captured_log(*records: tuple[str, tuple[Any, ...]], exc: BaseException | None = None) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecretsFilter())
    logger = logging.getLogger("tests.security.secrets")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        for message, args in records:
            logger.warning(message, *args)
        if exc is not None:
            try:
                raise exc
            except BaseException:
                logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_log_lines_never_show_the_config_s_secrets_or_url_passwords() -> None:
    config = load(ENV)
    text = _captured_log(
        ("config: %s", (config,)),
        ("connecting to %s and %s", (ENV["DATABASE_URL"], ENV["REDIS_URL"])),
        ("mail through %s", (ENV["EMAIL_URL"],)),
        exc=ConnectionError(f"cannot reach {ENV['REDIS_URL']}"),
    )
    assert _leaks(text) == []
    assert "db.internal" in text


def test_log_lines_never_show_this_process_s_secret_key() -> None:
    text = _captured_log(("signing with %s", (settings.SECRET_KEY,)))
    assert settings.SECRET_KEY not in text


def _raise_with_secrets_in_locals() -> None:
    database_url = ENV["DATABASE_URL"]  # what a frame of connection code holds
    config = settings.CONFIG
    raise RuntimeError(f"boom near {database_url.split('@')[1]} in {config.mode}")


@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_the_debug_500_page_shows_no_secret(accept: str) -> None:
    overrides = {
        "CONFIG": load(ENV),
        "DEBUG": True,
        "CELERY_BROKER_URL": ENV["REDIS_URL"],
        "CLEAVE_SERVICE_KEY": SERVICE_KEY,
        "EMAIL_HOST_PASSWORD": MAIL_PASSWORD,
        "CLEAVE_MAIL_URL_EXAMPLE": ENV["EMAIL_URL"],
    }
    with override_settings(**overrides):
        request = RequestFactory().get("/boom", HTTP_ACCEPT=accept)
        try:
            _raise_with_secrets_in_locals()
        except RuntimeError:
            response = technical_500_response(request, *sys.exc_info())
    page = response.content.decode()
    assert "db.internal" in page  # the page still shows the config, without the secrets
    assert _leaks(page) == []
