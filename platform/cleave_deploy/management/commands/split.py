"""`manage.py split start|stop|restart <service>`: the split topology on loopback (`make split`,
`split-stop`, `split-restart SERVICE=…`)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.progress import Progress, command_stream
from cleave_deploy import rolling, split
from cleave_deploy.topology import SplitError, Topology


class Command(BaseCommand):
    help = "Start or stop one service per context, their workers, realtime and nginx on loopback."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop", "restart"])
        parser.add_argument(
            "service", nargs="?", help="restart: the service to replace (rolling, one at a time)"
        )

    def handle(self, *args: Any, action: str, service: str | None, **options: Any) -> None:
        topology = Topology.from_env(os.environ)
        if action == "stop":
            stopped = split.stop(topology)
            self.stdout.write(f"stopped {', '.join(stopped)}" if stopped else "nothing running")
            return
        if action == "restart":
            self._restart(topology, service)
            return
        try:
            with Progress(
                "split start",
                total=split.start_steps(topology),
                stream=command_stream(self.stdout),
                unit="steps",
            ) as shown:
                pids = split.start(topology, shown)
        except SplitError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"split topology up: {len(pids)} processes, gateway {topology.gateway}"
            f" (TLS: https://127.0.0.1:{topology.gateway_tls_port}, self-signed)\n"
            f"  logs: {topology.folder / 'logs'}\n"
            f"  admin for the e2e suite: {topology.folder / 'admin.env'}\n"
            f"  e2e: CLEAVE_E2E_URL={topology.gateway} .venv/bin/pytest tests/e2e/blackbox"
        )

    def _restart(self, topology: Topology, service: str | None) -> None:
        if not service:
            raise CommandError("restart needs a service: `manage.py split restart ticketing`")
        try:
            with Progress(
                f"split restart {service}",
                total=rolling.restart_steps(),
                stream=command_stream(self.stdout),
                unit="steps",
            ) as shown:
                pids = rolling.restart(topology, service, shown)
        except SplitError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{service} replaced: " + ", ".join(f"{n} {p}" for n, p in pids.items()))
