"""django-waffle's app, installed without its membership signals.

Waffle's `ready()` connects a handler to the `users` and `groups` relations of the flag model
(waffle.signals), and fails with AttributeError on a flag built on `AbstractBaseFlag`, which has
neither (django-waffle issue #380, open). Cleave's flag targets user ids and roles instead, so
there is nothing for that handler to watch: this config keeps the rest of waffle as it is.
"""

from __future__ import annotations

from waffle.apps import WaffleConfig


class WaffleWithoutMembershipConfig(WaffleConfig):
    def ready(self) -> None:
        """Nothing: waffle's only start-up work is the membership signal described above."""
