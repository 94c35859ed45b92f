"""Which app versions are still served, per platform, and who changed that when."""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.timezone import now

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


class AppVersionPolicyChange(models.Model):
    """The audit log of the policy: who changed which platform's, from what to what."""

    platform = models.CharField(max_length=16, db_index=True)
    actor = models.CharField(max_length=254, help_text="The staff account (email) or process.")
    changed_at = models.DateTimeField(default=now)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        app_label = "cleave"
        ordering: ClassVar[list[str]] = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.platform} by {self.actor} at {self.changed_at:%Y-%m-%d %H:%M:%S}"
