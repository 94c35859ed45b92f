"""Tests that play one service calling another over HTTP: this process as service `name`, with
a fresh key that the callee trusts through the JWKS given in settings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.test import override_settings

from cleave.remote import service_tokens


@contextmanager
def acting_as_service(name: str) -> Iterator[dict[str, Any]]:
    """{"private": the key this process signs with, "jwk": its public JWK}, for `name`."""
    private, jwk = service_tokens.generate_key(name)
    with override_settings(
        CLEAVE_SERVICE_NAME=name,
        CLEAVE_SERVICE_KEY=private,
        CLEAVE_SERVICE_JWKS=json.dumps({"keys": [jwk]}),
    ):
        service_tokens.forget()  # the cached keys of the settings before
        try:
            yield {"private": private, "jwk": jwk}
        finally:
            service_tokens.forget()
