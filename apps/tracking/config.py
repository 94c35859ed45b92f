"""tracking's own settings (declared in apps/tracking/context.py), read per call so tests may
override them. The type stubs' settings module does not know a context's settings, hence the
one getattr here instead of an ignore at every use."""

from __future__ import annotations

from django.conf import settings


def tracking_setting(name: str) -> float:
    value: float = getattr(settings, name)
    return value
