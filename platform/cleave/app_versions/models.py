"""Which app versions are still served, per platform, and who changed that when."""

from __future__ import annotations

from django.db import models
from django.utils.timezone import now

from cleave.audit import AuditedChange

PLATFORM_CHOICES = [("ios", "iOS"), ("android", "Android"), ("web", "Web")]


class AppVersionPolicy(models.Model):
    """One platform's policy. Below `minimum_version` an app is refused (426); below
    `recommended_version` it is told an update is recommended. Blank means no bound."""

    platform = models.CharField(max_length=16, choices=PLATFORM_CHOICES, unique=True)
    minimum_version = models.CharField(max_length=32, blank=True, help_text="Semver, inclusive.")
    recommended_version = models.CharField(
        max_length=32, blank=True, help_text="Semver, inclusive."
    )
    store_url = models.URLField(max_length=500, blank=True, help_text="Where to update the app.")
    updated_at = models.DateTimeField(default=now)

    class Meta:
        app_label = "cleave"
        verbose_name = "app version policy"
        verbose_name_plural = "app version policies"

    def __str__(self) -> str:
        return f"{self.platform}: min {self.minimum_version or '-'}"


class AppVersionPolicyChange(AuditedChange):
    """The audit log of the policy: who changed which platform's, from what to what."""

    platform = models.CharField(max_length=16, db_index=True)

    class Meta(AuditedChange.Meta):
        app_label = "cleave"

    def __str__(self) -> str:
        return self.describe(self.platform)
