"""The `check|snapshot` command shape shared by the committed public documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.openapi.published import DocumentCheckFailed, PublishedDocument


class DocumentCommand(BaseCommand):
    document: PublishedDocument

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("check", "fail on breaking changes, or on a stale committed document"),
            ("snapshot", "rewrite the committed document from the code"),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument("--snapshot", type=Path, default=None, help="another file")

    def handle(self, *args: Any, action: str, snapshot: Path | None, **options: Any) -> None:
        if action == "snapshot":
            self.stdout.write(f"wrote {self.document.write(snapshot)}")
            return
        try:
            changes = self.document.check(snapshot)
        except DocumentCheckFailed as failure:
            raise CommandError(str(failure)) from None
        for change in changes:
            self.stdout.write(f"{change.kind:9} {change.where}: {change.what}")
        self.stdout.write(f"the {self.document.name} document matches {self.document.path.name}")
