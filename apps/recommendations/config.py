"""recommendations's settings as numbers (declared with their reasons in context.py)."""

from __future__ import annotations

from django.conf import settings


def setting(name: str) -> float:
    """`setting("FRESH_SECONDS")` is CLEAVE_RECOMMENDATIONS_FRESH_SECONDS, read on each call so
    tests' override_settings apply."""
    return float(getattr(settings, f"CLEAVE_RECOMMENDATIONS_{name}"))
