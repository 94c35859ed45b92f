"""`manage.py identity_keys status|rotate|prune`: the keys that sign access tokens."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apps.identity.models import SigningKey
from apps.identity.services.keys import signing_key_active, signing_key_rotate, signing_keys_prune


class Command(BaseCommand):
    help = "Show, rotate or prune the access-token signing keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="list keys: active, retired, published")
        sub.add_parser(
            "rotate", help="sign with a new key; keep the old one published until its tokens expire"
        )
        sub.add_parser("prune", help="delete keys retired longer than a token lives")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "rotate":
            key = signing_key_rotate()
            self.stdout.write(f"now signing with {key.kid}")
        elif action == "prune":
            self.stdout.write(f"deleted {signing_keys_prune()} retired key(s)")
        else:
            signing_key_active()
            for key in SigningKey.objects.order_by("-created_at"):
                state = (
                    "active"
                    if key.retired_at is None
                    else f"retired {key.retired_at:%Y-%m-%d %H:%M:%S}"
                )
                self.stdout.write(f"{key.kid}  created {key.created_at:%Y-%m-%d %H:%M:%S}  {state}")
