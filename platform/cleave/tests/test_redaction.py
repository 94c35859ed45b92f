"""Secrets never reach a log line, whatever the code logs."""

from __future__ import annotations

import logging

import pytest

from cleave.gateway.redaction import MASK, RedactSecretsFilter, redact

JWT = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiI0MiIsInNpZCI6InMxIn0.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Bearer {JWT}", JWT),
        ("headers={'Authorization': 'Bearer mdlsGiZu-opaque-refresh-token'}", "mdlsGiZu"),
        (f"token in a query: /ws/v1?access_token={JWT}", JWT),
        ('body {"email": "a@b.c", "password": "correct horse battery"}', "correct horse"),
        ("password=hunter2hunter2&next=/", "hunter2"),
        ('{"refresh": "x", "refresh_token": "r3fr3sh-t0k3n-value"}', "r3fr3sh"),
        ("CLEAVE_SERVICE_KEY=TbA5XL0aq5-QqlLe2ITabo5yhLLU", "TbA5XL0"),
        ("encryption_keys: k1:HjGnMGwM7hvGXxwi0hVAfg9", "HjGnMGw"),
    ],
)
def test_secrets_are_masked(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert MASK in cleaned


def test_ordinary_lines_are_left_alone() -> None:
    line = "GET /api/v1/conversations/42 200 in 3.1 ms (request 9f2c)"
    assert redact(line) == line


def test_the_filter_cleans_messages_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("cleave.tests.redaction")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger=logger.name):
            logger.info("login with %s", {"password": "s3cret-pass"})
            try:
                raise ValueError(f"refused Bearer {JWT}")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.filters.clear()
    text = caplog.text
    assert "s3cret-pass" not in text
    assert JWT not in text
    assert text.count(MASK) >= 2
