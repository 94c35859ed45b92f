"""Feature flags: Unleash-compatible evaluation on django-waffle (see docs/flags.md).

from cleave.flags import is_active, variant
is_active("messaging.reactions", principal, default=False)
"""

from cleave.flags.client import FeatureDisabled, details, is_active, variant

__all__ = ["FeatureDisabled", "details", "is_active", "variant"]
