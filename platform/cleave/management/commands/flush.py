"""Django's `flush`, allowed past the event log's append-only triggers.

The log refuses DELETE and TRUNCATE (cleave.eventstore.immutability); emptying a whole
database (the test suite between transactional tests, an operator resetting a dev database)
is maintenance, so it runs inside `event_maintenance`. Everything else is Django's command.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush

from cleave.eventstore.immutability import event_maintenance


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        with event_maintenance(options["database"]):
            super().handle(**options)
