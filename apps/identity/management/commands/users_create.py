"""`manage.py users_create --email … --password … [--verified]`: an account from the command line.

For operators, tests and benchmarks: with `--verified` the account may chat at once where the
deployment requires verified addresses (CLEAVE_REQUIRE_EMAIL_VERIFICATION), no link needed.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity.services import accounts
from cleave.errors import CleaveError


class Command(BaseCommand):
    help = "Create an account (events included); --verified vouches for its address."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--display-name", default="")
        parser.add_argument("--verified", action="store_true", help="count the address as verified")

    def handle(self, *args: Any, **options: Any) -> None:
        email: str = options["email"]
        try:
            user, _ = accounts.user_register(
                email=email,
                password=options["password"],
                display_name=options["display_name"] or email.split("@")[0],
                email_verified=options["verified"],
            )
        except CleaveError as error:
            raise CommandError(f"{error.code}: {error.message} {error.details or ''}") from None
        state = "verified" if user.email_verified else "unverified"
        self.stdout.write(f"created user {user.pk} {user.email} ({state})")
