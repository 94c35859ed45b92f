"""`manage.py encryption_keys status | rotate | generate`: encryption at rest's key operations.

Rotating a key: `generate` a new one, put it first in CLEAVE_ENCRYPTION_KEYS (keep the old ones
after it) and deploy; then `rotate` re-encrypts every encrypted column of every installed
model; once `status` shows no row on an old key id, drop that key from the variable.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from cleave.crypto.keys import KeyConfigError, generate_key, keyring
from cleave.crypto.rotation import (
    EncryptedColumn,
    RotationResult,
    encrypted_columns,
    key_usage,
    rotate_column,
)
from cleave.progress import Progress, command_stream

MAX_FAILED_SHOWN = 20


class Command(BaseCommand):
    help = "Encryption at rest: key usage per column, re-encryption after a rotation, new keys."
    # `generate` must work where the keys are still missing (cleave.E010 would stop it);
    # `status` and `rotate` load the keys themselves and say what is wrong.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        status = sub.add_parser("status", help="rows per key id, for every encrypted column")
        rotate = sub.add_parser("rotate", help="re-encrypt old values with the current key")
        rotate.add_argument("--batch-size", type=int, default=500)
        for command in (status, rotate):
            command.add_argument(
                "--model", action="append", default=[], help="app_label.Model (repeatable)"
            )
        generate = sub.add_parser("generate", help="print a new random key")
        generate.add_argument("--kid", help="its key id (default: k<today>)")
        generate.add_argument(
            "--hash-key", action="store_true", help="a CLEAVE_HASH_KEY instead (no key id)"
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "generate":
            if options["hash_key"]:
                self.stdout.write(generate_key())
                return
            kid = options["kid"] or f"k{timezone.now():%Y%m%d}"
            self.stderr.write(
                "Put it first in CLEAVE_ENCRYPTION_KEYS (keep the old keys after it), deploy, "
                "then run `encryption_keys rotate`. CLEAVE_HASH_KEY: `generate --hash-key`."
            )
            self.stdout.write(f"{kid}:{generate_key()}")
            return
        try:
            keyring()
        except KeyConfigError as exc:
            raise CommandError(str(exc)) from None
        columns = self._columns(options["model"])
        if action == "status":
            self._status(columns)
        else:
            if options["batch_size"] < 1:
                raise CommandError("--batch-size must be at least 1.")
            self._rotate(columns, options["batch_size"])

    def _columns(self, labels: list[str]) -> list[EncryptedColumn]:
        columns = encrypted_columns()
        if labels:
            wanted = {label.lower() for label in labels}
            columns = [c for c in columns if c.model._meta.label_lower in wanted]
            if not columns:
                raise CommandError(f"No encrypted column in {sorted(labels)}.")
        return columns

    def _status(self, columns: list[EncryptedColumn]) -> None:
        ring = keyring()
        source = "development keys derived from SECRET_KEY" if ring.derived else "environment"
        self.stdout.write(f"keys: {', '.join(ring.keys)} (current: {ring.current_kid}; {source})")
        for column in columns:
            usage = key_usage(column)
            counts = ", ".join(
                f"{kid}{'*' if kid == ring.current_kid else ''}={count}"
                for kid, count in usage.by_kid.items()
            )
            line = f"{column.label} [{column.database}]: {counts}, empty={usage.empty}"
            if usage.other:
                line += f", UNREADABLE={usage.other} (unknown key or not encrypted)"
            self.stdout.write(line)

    def _rotate(self, columns: list[EncryptedColumn], batch_size: int) -> None:
        ring = keyring()
        failures: list[RotationResult] = []
        for column in columns:
            to_rotate = sum(
                count for kid, count in key_usage(column).by_kid.items() if kid != ring.current_kid
            )
            with Progress(
                f"rotate {column.label}", total=to_rotate, stream=command_stream(self.stderr)
            ) as shown:
                result = rotate_column(column, batch_size=batch_size, on_batch=shown_by(shown))
            left = sum(
                count for kid, count in key_usage(column).by_kid.items() if kid != ring.current_kid
            )
            self.stdout.write(
                f"{column.label}: re-encrypted {result.rotated} row(s) in {result.batches} "
                f"batch(es) with {ring.current_kid}; {left} row(s) left on older keys"
                + (
                    " (rows locked by a concurrent write, or failing to decrypt: run again)"
                    if left
                    else ""
                )
            )
            if result.failed:
                failures.append(result)
        if failures:
            listed = "; ".join(f"{r.column} pk {r.failed[:MAX_FAILED_SHOWN]}" for r in failures)
            raise CommandError(f"Some values did not decrypt and were left as they are: {listed}")


def shown_by(progress: Progress) -> Callable[[RotationResult], None]:
    """`rotate_column`'s batch callback: the rows done so far (re-encrypted or failed)."""

    def on_batch(so_far: RotationResult) -> None:
        progress.advance(so_far.rotated + len(so_far.failed) - progress.done)

    return on_batch
