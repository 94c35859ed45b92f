"""`manage.py contracts check|snapshot|docs`: keep published contracts compatible and documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.contracts import compat, docs, snapshot
from cleave.events import routes
from cleave.events.subscribers import subscribers


class Command(BaseCommand):
    help = (
        "Check contracts against the committed snapshot, rewrite it, or generate docs/contracts.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (
            ("check", "classify changes vs. the snapshot; fail on unversioned breaks"),
            ("snapshot", "rewrite contracts/snapshot.json and subscriptions.json from the code"),
        ):
            action_parser = sub.add_parser(name, help=text)
            action_parser.add_argument("--snapshot", type=Path, default=snapshot.SNAPSHOT_PATH)
            action_parser.add_argument("--routes", type=Path, default=routes.ROUTES_PATH)
        docs_parser = sub.add_parser("docs", help="generate docs/contracts.md")
        docs_parser.add_argument("--check", action="store_true", help="fail if the file is stale")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        published = snapshot.published_contracts()
        current = snapshot.build(published)
        table = routes.render(routes.build(published, subscribers.all()))
        if action == "snapshot":
            options["snapshot"].write_text(snapshot.render(current))
            options["routes"].write_text(table)
            self.stdout.write(f"wrote {options['snapshot']} and {options['routes']}")
        elif action == "check":
            self._check(snapshot.load(options["snapshot"]), current)
            self._check_routes(table, options["routes"])
        else:
            self._docs(check=options["check"])

    def _check(self, recorded: dict[str, Any], current: dict[str, Any]) -> None:
        verdict = compat.check(recorded, current)
        for change in verdict.changes:
            self.stdout.write(f"{change.kind:9} {change.where}: {change.what}")
        if not verdict.ok:
            raise CommandError(
                f"{len(verdict.failures)} breaking change(s) without a new major version. "
                "Bump the contract's major version (and give consumers a path), or undo them."
            )
        if verdict.changes:
            self.stdout.write(
                "compatible; run `manage.py contracts snapshot` to record the changes"
            )
        else:
            self.stdout.write("contracts match the snapshot")

    def _check_routes(self, table: str, path: Path) -> None:
        # Needs every context installed: a process hosting some sees only their subscribers.
        if not path.exists() or path.read_text() != table:
            raise CommandError(
                "contracts/subscriptions.json is stale (event routes of the split topology): "
                "run `manage.py contracts snapshot` with every context installed"
            )
        self.stdout.write("event routes match contracts/subscriptions.json")

    def _docs(self, *, check: bool) -> None:
        text = docs.render(snapshot.published_contracts(), subscribers.all(), docs.callers())
        if check:
            if not docs.DOCS_PATH.exists() or docs.DOCS_PATH.read_text() != text:
                raise CommandError("docs/contracts.md is stale: run `manage.py contracts docs`")
            self.stdout.write("docs/contracts.md is up to date")
            return
        docs.DOCS_PATH.write_text(text)
        self.stdout.write(f"wrote {docs.DOCS_PATH}")
