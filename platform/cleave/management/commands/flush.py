"""Django's `flush`, allowed past the event log's append-only triggers, and retried when it
loses a deadlock.

The log refuses DELETE and TRUNCATE (cleave.eventstore.immutability); emptying a whole
database (the test suite between transactional tests, an operator resetting a dev database)
is maintenance, so it runs inside `event_maintenance`.

TRUNCATE locks its tables one by one. A process still working on the database meanwhile (a
test's Celery worker finishing a task, a dev server) can hold a lock on one table while it
waits for another the flush already holds: PostgreSQL then aborts one of the two, and when it
picks the flush, nothing was emptied (the flush is one transaction). The flush tries again a
few times; the other side's transaction has ended by then. Everything else is Django's command.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.flush import Command as DjangoFlush

from cleave.eventstore.immutability import event_maintenance

ATTEMPTS = 5
PAUSE_SECONDS = 0.2


def _lost_a_deadlock(error: BaseException) -> bool:
    cause: BaseException | None = error
    while cause is not None:
        if getattr(cause, "sqlstate", None) == "40P01":  # deadlock_detected
            return True
        cause = cause.__cause__
    return False


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with event_maintenance(options["database"]):
                    super().handle(**options)
                return
            except CommandError as error:
                if attempt == ATTEMPTS or not _lost_a_deadlock(error):
                    raise
                time.sleep(PAUSE_SECONDS * attempt)
