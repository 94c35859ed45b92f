"""`manage.py users_seed --count N [--prefix P] [--password PW] [--verified] --tokens-out F`.

Creates (or reuses) N accounts with a fresh session each and writes their access tokens to F as
JSON (`[{"user_id", "email", "session_id", "access"}, …]`): what the reconnect-storm test and
benchmark connect with. No production limit is raised; the accounts are ordinary ones.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.identity.services.seeding import users_seed


class Command(BaseCommand):
    help = "Create N ready-to-use accounts with sessions; write their access tokens to a file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, required=True)
        parser.add_argument("--prefix", default="seed", help="e-mails are <prefix>-<n>@example.com")
        parser.add_argument("--password", default=None, help="shared by all; none: unusable")
        parser.add_argument(
            "--verified",
            action="store_true",
            help="mark the e-mail addresses verified (no link to open)",
        )
        parser.add_argument("--tokens-out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        count: int = options["count"]
        if not 1 <= count <= 100_000:
            raise CommandError("--count: 1 to 100000")
        started = time.monotonic()
        seeded = users_seed(
            count=count,
            prefix=options["prefix"],
            password=options["password"],
            verified=options["verified"],
        )
        options["tokens_out"].write_text(json.dumps([asdict(user) for user in seeded]))
        self.stdout.write(
            f"{len(seeded)} account(s) with sessions in {time.monotonic() - started:.1f} s: "
            f"{options['tokens_out']}"
        )
