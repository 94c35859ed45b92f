"""`manage.py seed_demo`: a small demo data set for embedded mode (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "cleave-demo"  # noqa: S105 - documented demo credential, embedded mode only
DEMO_USERS = [("ada@example.com", "Ada"), ("grace@example.com", "Grace")]


class Command(BaseCommand):
    help = "Create the demo admin and users (embedded mode only; safe to run again)."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.CLEAVE_MODE != "embedded":
            raise CommandError("seed_demo creates well-known passwords: embedded mode only.")
        users = get_user_model()
        if not users.objects.filter(email=DEMO_ADMIN_EMAIL).exists():
            users.objects.create_superuser(
                DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, display_name="Admin"
            )
        for email, name in DEMO_USERS:
            if not users.objects.filter(email=email).exists():
                users.objects.create_user(email, DEMO_ADMIN_PASSWORD, display_name=name)
        self.stdout.write(
            f"Demo data ready. Admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD} at /admin/"
        )
