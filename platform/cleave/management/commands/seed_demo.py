"""`manage.py seed_demo`: a small demo data set for embedded mode (idempotent).
`--data-only`: the contexts' demo data without the accounts, in any mode (`make split`).

Besides the demo accounts, each installed context may bring its own demo data: a `demo`
module in its package with a `seed() -> str` (idempotent too), called in label order.
"""

from __future__ import annotations

import importlib
from importlib.util import find_spec
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.contexts import installed

DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "cleave-demo"  # noqa: S105 - documented demo credential, embedded mode only
DEMO_USERS = [("ada@example.com", "Ada"), ("grace@example.com", "Grace")]


class Command(BaseCommand):
    help = "Create the demo admin and users (embedded mode only; safe to run again)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--data-only",
            action="store_true",
            help="Only the installed contexts' demo data, no accounts: allowed in real mode "
            "(`make split` seeds each service's with it).",
        )

    def handle(self, *args: Any, data_only: bool = False, **options: Any) -> None:
        if data_only:
            self._contexts_data()
            return
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
        self._contexts_data()
        self.stdout.write(
            f"Demo data ready. Admin: {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD} at /admin/"
        )

    def _contexts_data(self) -> None:
        for context in sorted(installed(), key=lambda c: c.label):
            module = f"{context.app}.demo"
            if find_spec(module) is not None:
                self.stdout.write(importlib.import_module(module).seed())
