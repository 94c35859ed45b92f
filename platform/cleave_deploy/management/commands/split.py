"""`manage.py split start|stop`: the split topology on loopback (`make split`, `split-stop`)."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cleave.progress import Progress, command_stream
from cleave_deploy import split


class Command(BaseCommand):
    help = "Start or stop one service per context, their workers, realtime and nginx on loopback."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["start", "stop"])

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        topology = split.Topology.from_env(os.environ)
        if action == "stop":
            stopped = split.stop(topology)
            self.stdout.write(f"stopped {', '.join(stopped)}" if stopped else "nothing running")
            return
        try:
            with Progress(
                "split start",
                total=split.start_steps(topology),
                stream=command_stream(self.stdout),
                unit="steps",
            ) as shown:
                pids = split.start(topology, shown)
        except split.SplitError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"split topology up: {len(pids)} processes, gateway {topology.gateway}"
            f" (TLS: https://127.0.0.1:{topology.gateway_tls_port}, self-signed)\n"
            f"  logs: {topology.folder / 'logs'}\n"
            f"  admin for the e2e suite: {topology.folder / 'admin.env'}\n"
            f"  e2e: CLEAVE_E2E_URL={topology.gateway} .venv/bin/pytest tests/e2e/blackbox"
        )
