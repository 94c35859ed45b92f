"""Flags: waffle's flag with mobile targeting, and the audit log of every change."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy
from waffle.models import AbstractBaseFlag

from cleave.audit import AuditedChange


class Flag(AbstractBaseFlag):
    """WAFFLE_FLAG_MODEL. Waffle's `everyone` (on/off/unset) and `percent` keep their meaning;
    the fields below target users and mobile clients. Empty lists mean "no condition".

    Users are targeted by id and role, as the access token names them: no relation to the user
    table, so the flag tables live in any database, beside any context (waffle's own per-user
    and per-group relations became these lists in migration 0003)."""

    client_visible = models.BooleanField(
        default=False, help_text="Sent to apps by GET /api/v1/flags."
    )
    platforms = models.JSONField(default=list, blank=True, help_text='e.g. ["ios", "android"]')
    min_app_version = models.CharField(max_length=32, blank=True, help_text="Semver, inclusive.")
    max_app_version = models.CharField(max_length=32, blank=True, help_text="Semver, exclusive.")
    user_ids = models.JSONField(default=list, blank=True, help_text="Always on for these user ids.")
    roles = models.JSONField(default=list, blank=True, help_text="Always on for these roles.")
    environments = models.JSONField(
        default=list, blank=True, help_text="Only in these environments."
    )
    variants = models.JSONField(
        default=list, blank=True, help_text='[{"name": "a", "weight": 50}, …]'
    )

    class Meta(AbstractBaseFlag.Meta):
        app_label = "cleave"
        verbose_name = gettext_lazy("flag")  # lazy, as waffle's own Meta declares it

    def __str__(self) -> str:
        return self.name


class FlagChange(AuditedChange):
    """Who changed which flag, when, from what to what (admin, ops API)."""

    flag_name = models.CharField(max_length=100, db_index=True)

    class Meta(AuditedChange.Meta):
        app_label = "cleave"

    def __str__(self) -> str:
        return self.describe(self.flag_name)
