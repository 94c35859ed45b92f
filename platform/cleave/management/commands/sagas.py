"""`manage.py sagas list|show|retry|compensate`: look at sagas and act on them by hand."""

from __future__ import annotations

import getpass
from typing import Any
from uuid import UUID

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.events.tasks import hosted_aliases
from cleave.sagas import SagaNotFound, SagaNotRetryable, saga_compensate, saga_retry
from cleave.sagas.models import SagaLogEntry, SagaRun, SagaStep


class Command(BaseCommand):
    help = "List sagas, show one's timeline, retry it or compensate it (audited)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the latest sagas, newest first")
        listing.add_argument("--state", help="running, waiting, compensating, completed, …")
        listing.add_argument("--saga", help="only this saga type (e.g. ticketing.purchase)")
        listing.add_argument("--limit", type=int, default=50)
        show = sub.add_parser("show", help="one saga: its steps and its timeline")
        show.add_argument("saga_id", type=UUID)
        retry = sub.add_parser("retry", help="try the waiting step, or a failed compensation, now")
        retry.add_argument("saga_id", type=UUID)
        compensate = sub.add_parser("compensate", help="undo the saga's steps now")
        compensate.add_argument("saga_id", type=UUID)
        compensate.add_argument("--reason", default="")
        for action in (retry, compensate):
            action.add_argument("--actor", default="", help="who acts (default: the OS user)")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        actor = f"cli:{options.get('actor') or getpass.getuser()}"
        try:
            if action == "list":
                self._list(options["state"], options["saga"], options["limit"])
            elif action == "show":
                self._show(options["saga_id"])
            elif action == "retry":
                state = saga_retry(options["saga_id"], actor=actor)
                self.stdout.write(f"retrying {options['saga_id']} ({state})")
            else:
                accepted = saga_compensate(
                    options["saga_id"], actor=actor, reason=options["reason"]
                )
                self.stdout.write(
                    f"compensating {options['saga_id']}"
                    if accepted
                    else f"{options['saga_id']} is already finished or compensating"
                )
        except (SagaNotFound, SagaNotRetryable) as error:
            raise CommandError(str(error)) from error

    def _list(self, state: str | None, saga: str | None, limit: int) -> None:
        for alias in hosted_aliases():
            runs = SagaRun.objects.using(alias).order_by("-created_at")
            if state:
                runs = runs.filter(state=state)
            if saga:
                runs = runs.filter(saga=saga)
            for run in runs[:limit]:
                self.stdout.write(
                    f"{run.id}  {run.saga:<28} {run.state:<12} {run.step:<16} "
                    f"{run.reason:<10} {run.created_at:%Y-%m-%d %H:%M:%S}"
                )

    def _show(self, saga_id: UUID) -> None:
        for alias in hosted_aliases():
            run = SagaRun.objects.using(alias).filter(id=saga_id).first()
            if run is None:
                continue
            self.stdout.write(f"{run.saga} {run.id}: {run.state} at {run.step}")
            if run.reason or run.error:
                self.stdout.write(f"  reason: {run.reason} {run.error}".rstrip())
            self.stdout.write(f"  input: {run.input}")
            for step in SagaStep.objects.using(alias).filter(run=run).order_by("id"):
                self.stdout.write(
                    f"  step {step.name} [{step.phase}] {step.status}, {step.attempts} tries, "
                    f"key {step.idempotency_key}, result {step.result}"
                    + (f", error {step.error.splitlines()[-1]}" if step.error else "")
                )
            for entry in SagaLogEntry.objects.using(alias).filter(run=run):
                parts = [
                    f"{entry.at:%H:%M:%S.%f}", entry.kind, entry.step,
                    f"try {entry.attempt}" if entry.attempt else "",
                    f"by {entry.actor}" if entry.actor else "", entry.detail,
                ]  # fmt: skip
                self.stdout.write("  " + " ".join(part for part in parts if part))
            return
        raise CommandError(f"Saga {saga_id} does not exist.")
