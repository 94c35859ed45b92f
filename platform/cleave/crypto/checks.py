"""System checks: `cleave.E010` refuses real mode (DEBUG off) without valid encryption keys.

Registered by importing this module, which `cleave.crypto.fields` does: any process whose
models encrypt something checks its keys at startup, not at the first save.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from cleave.crypto.keys import KeyConfigError, load_keyring

MISSING_OR_INVALID = "cleave.E010"
DERIVED_IN_REAL_MODE = "cleave.W010"


@checks.register()
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        ring = load_keyring()
    except KeyConfigError as exc:
        return [
            checks.Error(
                str(exc),
                hint="`manage.py encryption_keys generate` prints a new key.",
                id=MISSING_OR_INVALID,
            )
        ]
    if ring.derived and getattr(settings, "CLEAVE_MODE", "embedded") == "real":
        # Only reachable with DEBUG on: load_keyring refused derived keys otherwise.
        return [
            checks.Warning(
                "Encryption at rest uses development keys derived from SECRET_KEY (DEBUG is on).",
                hint="Set CLEAVE_ENCRYPTION_KEYS and CLEAVE_HASH_KEY before turning DEBUG off.",
                id=DERIVED_IN_REAL_MODE,
            )
        ]
    return []
