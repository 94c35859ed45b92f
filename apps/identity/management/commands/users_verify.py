"""`manage.py users_verify EMAIL [EMAIL …]`: vouch for existing accounts' addresses.

For operators (support), and for tests and benchmarks that register accounts over HTTP against
a deployment requiring verified addresses: one process verifies a whole batch.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity import selectors
from apps.identity.services import emails


class Command(BaseCommand):
    help = "Mark the given accounts' e-mail addresses verified (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addresses", nargs="+", metavar="EMAIL")

    def handle(self, *args: Any, addresses: list[str], **options: Any) -> None:
        missing = []
        for email in addresses:
            user = selectors.user_get_by_email(email=email)
            if user is None or not user.is_active:
                missing.append(email)
                continue
            emails.email_mark_verified(user_id=user.pk)
            self.stdout.write(f"verified {user.pk} {user.email}")
        if missing:
            raise CommandError(f"no active account for: {', '.join(missing)}")
