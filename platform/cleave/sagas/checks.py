"""System checks of the saga engine."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register()
def check_kill_point_unset(app_configs: Any = None, **kwargs: Any) -> list[checks.Warning]:
    """A kill point left set would SIGKILL a production worker at that step of every saga."""
    if not getattr(settings, "CLEAVE_SAGA_KILL_AT", ""):
        return []
    return [
        checks.Warning(
            f"CLEAVE_SAGA_KILL_AT={settings.CLEAVE_SAGA_KILL_AT!r} is set: a process that "
            "reaches that saga step kills itself.",
            hint="It is for fault tests only: unset it.",
            id="cleave.W030",
        )
    ]
