"""`manage.py eventstore retention`: drop the streams older than their category's window."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from cleave.eventstore.retention import retention_run, retention_windows


class Command(BaseCommand):
    help = "Event store maintenance: retention (CLEAVE_EVENTSTORE_RETENTION_DAYS)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("retention", help="drop whole streams older than their category's window")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        windows = retention_windows()
        if not windows:
            self.stdout.write("no retention configured: every stream is kept")
            return
        for category, count in retention_run().items():
            days = windows[category]
            self.stdout.write(
                f"{category}: dropped {count} event(s) of streams idle over {days} days"
            )
