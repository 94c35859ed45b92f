"""`manage.py projections status|catchup|rebuild NAME|retry NAME|skip NAME`."""

from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.eventstore.operations import NotParked, projection_retry, projection_skip
from cleave.eventstore.projections import projection_named, registered_projections
from cleave.eventstore.rebuild import projection_rebuild
from cleave.eventstore.subscriptions import catchup_projection, projection_lag
from cleave.progress import Progress, command_stream


class Command(BaseCommand):
    help = "Operate the event store's projections: lag, catch-up, rebuild, retry or skip."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="each projection's position, lag and parked error")
        catchup = sub.add_parser("catchup", help="catch projections up to the head of the log")
        catchup.add_argument("names", nargs="*", help="projections (default: all)")
        for action, text in (
            ("rebuild", "replay the whole log into NAME (reads keep answering)"),
            ("retry", "apply NAME's parked event again"),
            ("skip", "move NAME past its parked event without applying it"),
        ):
            command = sub.add_parser(action, help=text)
            command.add_argument("name")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        actor = f"cli:{getpass.getuser()}"
        if action == "status":
            self._status()
        elif action == "catchup":
            chosen = [projection_named(n) for n in options["names"]] or registered_projections()
            for projection in chosen:
                with self._progress(f"catchup {projection.name}", projection) as progress:
                    catchup_projection(projection, progress=progress)
        elif action == "rebuild":
            projection = projection_named(options["name"])
            with Progress(
                f"rebuild {projection.name}",
                total=None,
                stream=command_stream(self.stderr),
                unit="positions",
            ) as progress:
                applied = projection_rebuild(projection, actor=actor, progress=progress)
            self.stdout.write(f"{projection.name}: rebuilt, {applied} event(s) applied")
        else:
            projection = projection_named(options["name"])
            operate = projection_retry if action == "retry" else projection_skip
            try:
                applied = operate(projection, actor=actor)
            except NotParked as error:
                raise CommandError(str(error)) from None
            self.stdout.write(f"{projection.name}: {action} done, {applied} event(s) applied")
        if action != "status":
            self._status()

    def _progress(self, label: str, projection: Any) -> Progress:
        lag = projection_lag(projection)
        return Progress(label, total=lag.events, stream=command_stream(self.stderr), unit="events")

    def _status(self) -> None:
        projections = registered_projections()
        if not projections:
            self.stdout.write("no projections registered")
        for projection in projections:
            lag = projection_lag(projection)
            line = (
                f"{projection.name} [{projection.alias}]: position {lag.position} of "
                f"{lag.head}, lag {lag.events} event(s) / {lag.seconds:.1f}s"
            )
            if lag.parked_position is not None:
                first = lag.parked_error.strip().splitlines()[-1:] or [""]
                line += f"\n  PARKED at {lag.parked_position}: {first[0]}"
            self.stdout.write(line)
