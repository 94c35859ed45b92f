"""The shape of the kernel's audit rows: who changed something, when, from what to what.

Each audited thing keeps its own table (a flag's history is read by flag name, a policy's by
platform), so this is an abstract model: the subject's own key field plus these columns.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.timezone import now


class AuditedChange(models.Model):
    actor = models.CharField(max_length=254, help_text="The staff account (email) or process.")
    changed_at = models.DateTimeField(default=now)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering: ClassVar[list[str]] = ["-changed_at", "-id"]

    def describe(self, subject: str) -> str:
        return f"{subject} by {self.actor} at {self.changed_at:%Y-%m-%d %H:%M:%S}"
