"""`manage.py events status|sweep|retry|replay`: operate the event bus by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Count

from cleave.events.models import FailedDelivery, OutboxEvent
from cleave.events.retries import replay
from cleave.events.tasks import hosted_aliases, retry_due_deliveries, sweep_outbox


class Command(BaseCommand):
    help = "Inspect and operate the event bus: status, sweep, retry, replay dead or parked events."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("status", help="outbox backlog and failed deliveries per status")
        sub.add_parser("sweep", help="hand off every pending outbox row now")
        sub.add_parser("retry", help="retry every due failed delivery now")
        replay_parser = sub.add_parser("replay", help="re-deliver dead letters and parked events")
        replay_parser.add_argument("ids", nargs="*", type=int, help="dead or parked ids")
        replay_parser.add_argument("--all", action="store_true", help="every dead or parked one")
        replay_parser.add_argument("--subscriber", help="only this subscriber's dead letters")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "status":
            self._status()
        elif action == "sweep":
            self.stdout.write(f"handed off {sweep_outbox()} event(s)")
        elif action == "retry":
            self.stdout.write(f"attempted {retry_due_deliveries()} deliveries")
        else:
            self._replay(options["ids"], every=options["all"], subscriber=options["subscriber"])

    def _status(self) -> None:
        for alias in hosted_aliases():
            pending = OutboxEvent.objects.using(alias).filter(dispatched_at__isnull=True).count()
            self.stdout.write(f"[{alias}] outbox pending: {pending}")
            rows = FailedDelivery.objects.using(alias).values("status").annotate(n=Count("id"))
            for row in rows.order_by("status"):
                self.stdout.write(f"[{alias}] {row['status']}: {row['n']}")

    def _replay(self, ids: list[int], *, every: bool, subscriber: str | None) -> None:
        if not ids and not every and not subscriber:
            raise CommandError("name dead letter ids, or pass --all or --subscriber NAME")
        total = 0
        for alias in hosted_aliases():
            Status = FailedDelivery.Status
            dead = FailedDelivery.objects.using(alias).filter(
                status__in=[Status.DEAD, Status.PARKED]
            )
            if ids:
                dead = dead.filter(id__in=ids)
            if subscriber:
                dead = dead.filter(subscriber=subscriber)
            total += replay(alias, dead.values_list("id", flat=True))
        retried = retry_due_deliveries()
        self.stdout.write(
            f"replayed {total} dead or parked event(s); {retried} delivered or rescheduled"
        )
