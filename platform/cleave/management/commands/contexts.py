"""`manage.py contexts list`: the contexts' declarations as the kernel reads them (cleave.contexts);
`manage.py contexts map`: the context map from live data, beside the declared one."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave import contexts
from cleave.observability import context_map


class Command(BaseCommand):
    help = "Who called whom and who consumed which events, observed vs. declared."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="print every context's declaration")
        listing.add_argument("--json", action="store_true", help="machine-readable output")
        mapping = sub.add_parser("map", help="print the observed context map")
        mapping.add_argument("--window", default="1h", help="Prometheus range, e.g. 15m, 1h, 1d")
        mapping.add_argument("--prometheus", help="Prometheus URL (default CLEAVE_PROMETHEUS_URL)")
        mapping.add_argument("--json", action="store_true", help="machine-readable output")
        mapping.add_argument(
            "--strict", action="store_true", help="exit non-zero if an edge is not declared"
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            self._list(as_json=options["json"])
            return
        try:
            result = context_map.build(options["window"], options["prometheus"])
        except (OSError, RuntimeError, ValueError) as error:
            raise CommandError(f"could not read the metrics: {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(result.as_dict(), indent=2))
        else:
            self.stdout.write(context_map.render(result))
        flagged = [edge for edge in result.edges if edge.flagged]
        if options["strict"] and flagged:
            raise CommandError(f"{len(flagged)} edge(s) are not declared by any contract")

    def _list(self, *, as_json: bool) -> None:
        hosted = {context.label for context in contexts.installed()}
        described = [
            {
                **{k: v for k, v in dataclasses.asdict(context).items() if k != "settings"},
                "hosted": context.label in hosted,
                "events_queue": context.events_queue,
            }
            for context in contexts.all_contexts()
        ]
        if as_json:
            self.stdout.write(json.dumps(described, indent=2))
            return
        for context in described:
            roles = ["edge" if context["edge"] else "", "realtime" if context["realtime"] else ""]
            what = ", ".join(filter(None, roles)) or "-"
            where = "hosted here" if context["hosted"] else "elsewhere"
            self.stdout.write(f"{context['label']:16} {what:16} {where:12} {context['app']}")
            for prefix in context["url_prefixes"]:
                self.stdout.write(f"{'':16} {prefix}")
