"""`manage.py context_data export|import|verify <context>`: move one context's rows to its own
database with counts and checksums that must match at the other end (see docs/extraction.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.databases import DEFAULT, database_for
from cleave.progress import Progress, command_stream
from cleave_deploy import data, data_import


class Command(BaseCommand):
    help = "Export, import or verify one context's rows (with a manifest of counts + SHA-256)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="write the context's rows to a file")
        export.add_argument("context")
        export.add_argument("--output", required=True, type=Path)
        export.add_argument("--database", help="source alias (default: the context's own)")
        export.add_argument(
            "--allow-pending",
            action="store_true",
            help="export although some of the context's events are not handed off yet",
        )
        load = sub.add_parser("import", help="load a file into a database, then verify it")
        load.add_argument("context")
        load.add_argument("--input", required=True, type=Path)
        load.add_argument("--database", default=DEFAULT, help="target alias (default: default)")
        load.add_argument(
            "--replace", action="store_true", help="delete the target's rows of this context first"
        )
        check = sub.add_parser("verify", help="check a database against a file, import nothing")
        check.add_argument("context")
        check.add_argument("--input", required=True, type=Path)
        check.add_argument("--database", default=DEFAULT, help="alias to check (default: default)")

    def handle(self, *args: Any, action: str, context: str, **options: Any) -> None:
        try:
            plan = data.plan_for(context)
            if action == "export":
                manifest = self._export(plan, options)
            elif action == "import":
                with self._progress(f"import {context}") as shown:
                    manifest = data_import.import_file(
                        plan,
                        self._input(options),
                        alias=options["database"],
                        replace=options["replace"],
                        progress=shown,
                    )
            else:
                manifest = data_import.verify(plan, self._input(options), alias=options["database"])
        except data.DataMoveError as exc:
            raise CommandError(str(exc)) from exc
        for label, digest in manifest.models.items():
            self.stdout.write(f"{label:<36} {digest.rows:>9} rows  sha256 {digest.sha256}")
        verb = {"export": "exported", "import": "imported and verified", "verify": "verified"}
        self.stdout.write(self.style.SUCCESS(f"{verb[action]} {context}: sha256 {manifest.sha256}"))

    def _export(self, plan: data.Plan, options: dict[str, Any]) -> data.Manifest:
        alias = options["database"] or database_for(plan.context)
        pending = data.pending_outbox(plan.context, alias)
        if pending and not options["allow_pending"]:
            raise data.DataMoveError(
                f"{pending} event(s) of {plan.context} are still in the outbox: run "
                "`manage.py events sweep` with writes stopped, or pass --allow-pending"
            )
        output: Path = options["output"]
        output.parent.mkdir(parents=True, exist_ok=True)
        partial = output.with_name(output.name + ".partial")
        # Written aside and renamed at the end: a crash never leaves a file that looks finished.
        with (
            partial.open("w", encoding="utf-8") as out,
            self._progress(f"export {plan.context}") as shown,
        ):
            manifest = data.export(plan, alias=alias, out=out, progress=shown)
        partial.replace(output)
        return manifest

    def _progress(self, label: str) -> Progress:
        """Rows done of total, rate and ETA on stderr (stdout keeps the manifest)."""
        return Progress(label, total=None, stream=command_stream(self.stderr))

    def _input(self, options: dict[str, Any]) -> Path:
        path: Path = options["input"]
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        return path
