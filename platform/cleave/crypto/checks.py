"""System checks: `cleave.E010` refuses real mode without valid encryption keys, DEBUG or not.

Registered by importing this module, which `cleave.crypto.fields` does: any process whose
models encrypt something checks its keys at startup, not at the first save. `manage.py`
commands run it; the servers' entry point (cleave.wsgi) runs the checks tagged `TAG` itself.
"""

from __future__ import annotations

from typing import Any

from django.core import checks

from cleave.crypto.keys import KeyConfigError, load_keyring

MISSING_OR_INVALID = "cleave.E010"
TAG = "encryption"


@checks.register(TAG)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    try:
        load_keyring()
    except KeyConfigError as exc:
        return [
            checks.Error(
                str(exc),
                hint="`manage.py encryption_keys generate` prints a new key.",
                id=MISSING_OR_INVALID,
            )
        ]
    return []
