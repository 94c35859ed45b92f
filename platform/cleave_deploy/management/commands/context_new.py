"""`manage.py context_new <label>`: a new context's first files (docs/adding-a-context.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave_deploy.scaffold import ScaffoldError, write


class Command(BaseCommand):
    help = "Write apps/<label>/ and contracts/<label>/ for a new context, declared and tested."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("label", help="the context's label (lower_snake_case)")
        parser.add_argument(
            "--root",
            type=Path,
            default=Path(settings.BASE_DIR),
            help="the folder holding apps/ and contracts/ (default: this project)",
        )

    def handle(self, *args: Any, label: str, root: Path, **options: Any) -> None:
        try:
            written = write(label, root)
        except ScaffoldError as error:
            raise CommandError(str(error)) from None
        for path in written:
            self.stdout.write(str(path))
        self.stdout.write(
            f"next: makemigrations {label}, contracts snapshot, contracts docs "
            "(docs/adding-a-context.md)"
        )
