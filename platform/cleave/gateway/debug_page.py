"""What Django's debug page and error mails may show: no secret, whatever holds it.

Django masks settings and variables whose *names* look secret (KEY, SECRET, PASS…). That misses
values that hold secrets under other names: `settings.CONFIG` (whose repr masks itself), URLs
with a password (`CELERY_BROKER_URL`, `CACHES`' LOCATION, a `database_url` local variable), and
this process's own keys quoted inside free text. Every setting, request META entry and frame
variable goes through `cleave.gateway.redaction.redact` here as well.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from cleave.gateway.redaction import redact


class _Shown:
    """A value as the page prints it (its repr), with secrets masked."""

    def __init__(self, value: Any) -> None:
        self._text = redact(repr(value))

    def __repr__(self) -> str:
        return self._text


class SecretSafeReporterFilter(SafeExceptionReporterFilter):
    # Django's names, plus the spellings of credentials in other libraries' settings.
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|CREDENTIAL|DSN|AUTH", flags=re.I
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        return _scrubbed(cleansed, self.cleansed_substitute)

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [(name, self.cleanse_setting(name, value)) for name, value in variables]


def _scrubbed(value: Any, substitute: str) -> Any:
    if value == substitute or value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _scrubbed(item, substitute) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrubbed(item, substitute) for item in value)
    return _Shown(value)
